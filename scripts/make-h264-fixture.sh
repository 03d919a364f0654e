#!/usr/bin/env bash
# Encodes the simulator's H.264 fixtures (src/simulator/fixtures/*.h264), run once and committed:
# one short loop per participant palette slot (src/simulator/media.ts PALETTES, same order) and
# one "screen" loop for deskshare. Needs Debian's ffmpeg (libx264); no fonts (the frame counter
# is drawn as boxes). See docs/simulator.md "H.264 video" for what the simulator does with them.
#
# Every clip: H.264 Constrained Baseline (no B-frames, so decode order = presentation order),
# yuv420p, 640x360, 30 frames at 30 fps (1 s), an IDR every 15 frames (closed GOP, no
# scene-cut keyframes), SPS+PPS before every IDR (repeat-headers=1) so each IDR is an entry
# point, x264's SEI version string removed. Raw Annex-B (.h264), no container.
#
# Picture: a flat tint (the slot's RGB, so a decoded frame's average colour tells participants
# apart), a 48x48 white square moving left to right, the slot number as 4 black/white blocks
# (top left) and the frame number 0–29 as 5 black/white blocks (bottom left), so frames differ.
#
# Usage: scripts/make-h264-fixture.sh [out_dir]   (default src/simulator/fixtures)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-src/simulator/fixtures}"
mkdir -p "$out"

# Keep in step with PALETTES in src/simulator/media.ts (slot i uses entry i).
palettes=(
  "220 60 60" "60 160 220" "70 190 90" "230 180 40" "160 80 200" "40 200 190"
  "240 120 30" "120 120 120" "200 90 150" "100 60 30" "30 60 140" "170 210 60"
)

# drawbox filters for `bits` binary blocks of value `expr` (a number, or n = the frame number,
# via the timeline `enable`: drawbox evaluates its x/y once, so moving things use overlay).
blocks() {
  local expr="$1" bits="$2" x0="$3" y0="$4" out="" i
  for ((i = 0; i < bits; i++)); do
    local x=$((x0 + i * 20))
    out+=",drawbox=x=${x}:y=${y0}:w=18:h=18:color=white:t=fill"
    out+=",drawbox=x=${x}:y=${y0}:w=18:h=18:color=black:t=fill:enable='eq(mod(floor((${expr})/$((1 << i))),2),1)'"
  done
  printf '%s' "$out"
}

encode() {
  local src="$1" file="$2"
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$src" -frames:v 30 \
    -c:v libx264 -profile:v baseline -pix_fmt yuv420p -preset medium -crf 23 \
    -g 15 -keyint_min 15 -sc_threshold 0 -bf 0 \
    -x264-params repeat-headers=1:open-gop=0 \
    -bsf:v filter_units=remove_types=6 \
    -f h264 "$file"
}

for i in "${!palettes[@]}"; do
  read -r r g b <<<"${palettes[$i]}"
  hex=$(printf '0x%02X%02X%02X' "$r" "$g" "$b")
  file="$out/slot-$(printf '%02d' "$i").h264"
  filters="color=c=${hex}:s=640x360:r=30:d=1[bg];color=c=white:s=48x48:r=30[box]"
  filters+=";[bg][box]overlay=x='16+n*19':y=288:shortest=1"
  filters+="$(blocks "$i" 4 8 8)$(blocks n 5 8 334)"
  encode "$filters" "$file"
done

# Deskshare: a light "document" (horizontal rules every 24 px) with a dark moving cursor.
filters="color=c=0xEBEBF0:s=640x360:r=30:d=1,drawgrid=w=640:h=24:t=2:color=0x787878[bg]"
filters+=";color=c=0x202020:s=12x20:r=30[cursor];[bg][cursor]overlay=x='40+n*18':y='60+n*8':shortest=1"
filters+="$(blocks n 5 8 334)"
encode "$filters" "$out/screen.h264"

# Print what a decoder sees (average RGB of frame 0 at 64x36) and the sizes, for docs/simulator.md.
total=0
for f in "$out"/*.h264; do
  size=$(stat -c %s "$f")
  total=$((total + size))
  frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$f")
  avg=$(ffmpeg -hide_banner -loglevel error -i "$f" -frames:v 1 -vf scale=64:36 -f rawvideo -pix_fmt rgb24 - |
    od -An -v -tu1 -w3 | awk '{r+=$1; g+=$2; b+=$3; n++} END {printf "%d %d %d", r/n, g/n, b/n}')
  echo "$(basename "$f"): ${size} bytes, ${frames} frames, average RGB of frame 0: ${avg}"
done
echo "total: ${total} bytes"
