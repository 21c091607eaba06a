#!/usr/bin/env bash
# Re-collects the real photographs in this folder from registry packages.
# Needs: apt-get (Debian, after `apt-get update`), pip, dpkg-deb, Python with Pillow.
# Usage: bash data/eval/photos/collect.sh [python]   (run from the repository root)
set -euo pipefail
PY=${1:-python3}
OUT=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
"$PY" -m pip download --no-deps -q scikit-image==0.25.2 scikit-learn==1.6.1 -d whl
mkdir -p x
for w in whl/*.whl; do "$PY" -m zipfile -e "$w" x; done
apt-get download tuxpaint-stamps-default=2022.06.04-1 \
  plasma-workspace-wallpapers=4:5.27.5-2 mate-backgrounds=1.26.0-1
for d in *.deb; do dpkg-deb -x "$d" x; done
T=x/usr/share/tuxpaint/stamps
W=x/usr/share/wallpapers
M=x/usr/share/backgrounds/mate/nature
"$PY" - "$OUT" <<PYEOF
"""Resize each source to a long side of at most 640 px and save it as JPEG quality 85.

Cut-out stamps (RGBA) are laid on a white background."""
import sys
from PIL import Image

out = sys.argv[1]
pairs = {
    "cat_chelsea": "x/skimage/data/chelsea.png",
    "coffee_cup": "x/skimage/data/coffee.png",
    "rocket_launch": "x/skimage/data/rocket.jpg",
    "pagoda": "x/sklearn/datasets/images/china.jpg",
    "dahlia": "x/sklearn/datasets/images/flower.jpg",
    "ladybird": "$M/LadyBird.jpg",
    "yellow_flower": "$M/YellowFlower.jpg",
    "storm_clouds": "$M/Storm.jpg",
    "water_drop": "$M/Aqua.jpg",
    "autumn_leaf": "$W/FallenLeaf/contents/images/1920x1080.jpg",
    "canoes_lake": "$W/EveningGlow/contents/images/1920x1080.jpg",
    "forest_path": "$W/Path/contents/images/1920x1080.jpg",
    "sunset_lake": "$W/summer_1am/contents/images/1920x1080.jpg",
    "dog_husky": "$T/animals/mammals/dogs/dog.png",
    "horse": "$T/animals/mammals/equines/horse.png",
    "cow": "$T/animals/mammals/bovines/cow.png",
    "pig": "$T/animals/mammals/pig.png",
    "sheep": "$T/animals/mammals/bovines/sheep.png",
    "elephant": "$T/animals/mammals/elephant.png",
    "giraffe": "$T/animals/mammals/giraffe.png",
    "owl": "$T/animals/birds/owl.png",
    "penguin": "$T/animals/birds/penguin.png",
    "rooster": "$T/animals/birds/rooster.png",
    "duck": "$T/animals/birds/duck.png",
    "rabbit": "$T/animals/mammals/rodents/rabbit.png",
    "tiger": "$T/animals/mammals/cats/tiger.png",
    "dolphin": "$T/animals/mammals/aquatic/dolphin.png",
    "frog": "$T/animals/amphibians/frog.png",
    "squirrel": "$T/animals/mammals/rodents/squirrel.png",
    "fire_engine": "$T/vehicles/emergency/firetruck.png",
    "car_sedan": "$T/vehicles/auto/sedan.png",
    "airliner": "$T/vehicles/flight/planes/747.png",
    "guitar": "$T/hobbies/music/string/guitar_classical.png",
    "violin": "$T/hobbies/music/string/violin.png",
    "drum_kit": "$T/hobbies/music/percussion/drumkit.png",
    "light_bulb": "$T/household/Lightbulb.png",
    "rose": "$T/plants/flowers/rose.png",
    "full_moon": "$T/space/moon/moon_full.png",
}
for name, src in pairs.items():
    im = Image.open(src)
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        bg = Image.new("RGB", im.size, "white")
        bg.paste(im, mask=im.split()[3])
        im = bg
    im = im.convert("RGB")
    im.thumbnail((640, 640), Image.LANCZOS)
    im.save(f"{out}/{name}.jpg", "JPEG", quality=85, optimize=True)
    print(name, im.size)
PYEOF
