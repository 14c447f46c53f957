"""Photo variants: images per second and peak memory, against the same pipeline without `Image.draft`.

Generates 12-megapixel (4000x3000) photo-like JPEGs in the run (gradients, shapes and sensor
noise, quality 92: 3-5 MB, like a phone camera's), then makes every device-class variant of
each through apps.media.images, the pipeline uploads use, in two worker processes (a Celery
worker's concurrency on this 2-core machine), and again with a full decode (no draft) in the
same run, interleaved so both see the same machine noise.

    .venv/bin/python bench/photos.py [--images 40] [--workers 2]

Targets: >= 10 images/s, peak RSS <= 300 MB (all worker processes together).
The last line is `photos per_s=<n> peak_mb=<m> speedup=<s>`.
"""

from __future__ import annotations

import argparse
import io
import random
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _support import parse_args

from apps.media.images import VARIANTS, image_variants_make

WIDTH, HEIGHT = 4000, 3000
SEED = 20_261_124


def make_photo(rng: random.Random) -> bytes:
    """A 12 MP JPEG with what a camera photo has: smooth light, edges, texture and sensor noise."""
    small = Image.linear_gradient("L").resize((WIDTH // 4, HEIGHT // 4)).convert("RGB")
    draw = ImageDraw.Draw(small)
    for _ in range(120):
        x, y = rng.randrange(WIDTH // 4), rng.randrange(HEIGHT // 4)
        w, h = rng.randrange(20, 300), rng.randrange(20, 300)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x, y, x + w, y + h), fill=colour)
    image = small.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC).filter(ImageFilter.SMOOTH)
    noise = Image.effect_noise((WIDTH, HEIGHT), 30).convert("RGB")
    image = Image.blend(image, noise, 0.22)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def _work(args: tuple[bytes, bool]) -> int:
    content, use_draft = args
    image_variants_make(io.BytesIO(content), use_draft=use_draft)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def run(photos: list[bytes], count: int, workers: int, use_draft: bool) -> tuple[float, float]:
    """Images per second and the sum of the workers' peak RSS (MB), in a fresh pool."""
    jobs = [(photos[i % len(photos)], use_draft) for i in range(count)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_work, jobs[:workers]))  # start and warm the workers: imports are not the pipeline's cost
        started = time.perf_counter()
        peaks = list(pool.map(_work, jobs))
        elapsed = time.perf_counter() - started
        per_worker = list(pool.map(_peak, range(workers * 4)))
    peak_kib = sum(sorted(set(per_worker) | set(peaks), reverse=True)[:workers])
    return count / elapsed, peak_kib / 1024


def _peak(_: int) -> int:
    time.sleep(0.05)  # lets every worker take one
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parse_args(parser, smoke=dict(images=4))
    rng = random.Random(SEED)
    photos = [make_photo(rng) for _ in range(4)]
    sizes = ", ".join(f"{len(p) / 1e6:.1f}" for p in photos)
    print(f"{len(photos)} generated {WIDTH}x{HEIGHT} JPEGs ({sizes} MB); variants: "
          + ", ".join(f"{v.name} {v.max_side}px {v.format}" for v in VARIANTS))
    single = time.perf_counter()
    for photo in photos:
        image_variants_make(io.BytesIO(photo))
    print(f"one process: {(time.perf_counter() - single) / len(photos) * 1000:.0f} ms per photo with draft")
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(2):  # interleaved: draft, full, draft, full
        for use_draft in (True, False):
            results[use_draft].append(run(photos, args.images, args.workers, use_draft))
    best = {d: max(r[0] for r in rs) for d, rs in results.items()}
    peak = {d: max(r[1] for r in rs) for d, rs in results.items()}
    print(f"with draft:    {best[True]:.1f} photos/s, peak RSS {peak[True]:.0f} MB ({args.workers} workers)")
    print(f"full decode:   {best[False]:.1f} photos/s, peak RSS {peak[False]:.0f} MB ({args.workers} workers)")
    print(f"photos per_s={best[True]:.1f} peak_mb={peak[True]:.0f} speedup={best[True] / best[False]:.2f}")


if __name__ == "__main__":
    main()
