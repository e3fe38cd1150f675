"""The grid mesh a city-level user downloads: bytes and server time, before and after.

    .venv/bin/python benchmarks/mesh.py                  # zooms 8 and 9, the city's view
    .venv/bin/python benchmarks/mesh.py --reuse --zooms 8 9 12

Builds the Suzhou demo (10,400 grids) in a throwaway SQLite data directory
and, for the demo's city admin (the whole city, region 320500), serves the
mesh (``GET /api/v1/geo/regions/320500/grids.geojson?zoom=Z&slim=true``) two
ways in one run:

* **before**: the old way, kept here as the baseline (``baseline_mesh``):
  grids read from the database, ``shapely.simplify`` to half a pixel,
  ``set_precision`` to a quarter pixel (a grid below that collapses and is
  dropped), every feature with its id, ``json.dumps`` of the whole collection
  on every request (the features were cached, not the text);
* **after**: ``geo.selectors.grid_mesh``: the shapes of the spatial index in
  memory (no query), simplified to half a pixel, coordinates rounded to the
  zoom's decimals, only the code as property, the feature texts cached per
  (territory revision, region, zoom) and joined per request.

For each it prints the grids served, the raw and gzipped bytes (Django's
``compress_string``, what ``GZipMiddleware`` sends), the server time cold
(empty cache) and cached (median of 5), and the after/before ratios. Last, the
whole request through Django's test client with a bearer token (cached, gzip).
Exits 1 if the new mesh misses a grid.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from _setup import add_data_arguments, demo_database  # benchmarks/ is on sys.path


def baseline_mesh(region, zoom: int, cache_key: str) -> bytes:
    """The old ``grids_geojson(slim=True)`` and its response body, as it was."""
    import shapely
    from django.core.cache import cache

    from shanzhi.geo.models import Grid, Level
    from shanzhi.geo.selectors import tolerance_for_zoom

    features = cache.get(cache_key)
    if features is None:
        grids = Grid.objects.current().filter(path__startswith=region.path).only(
            "id", "code", "name", "geometry", "generated")
        nodes = [g for g in grids if g.geometry]
        geoms = shapely.from_wkb([bytes(n.geometry) for n in nodes])
        geoms = shapely.simplify(geoms, tolerance_for_zoom(zoom), preserve_topology=True)
        geoms = shapely.set_precision(geoms, min(tolerance_for_zoom(zoom) / 4, 1e-3))
        features = []
        for node, geom in zip(nodes, geoms, strict=True):
            if shapely.is_empty(geom):
                continue
            features.append({"type": "Feature", "id": node.pk,
                             "geometry": json.loads(shapely.to_geojson(geom)),
                             "properties": {"id": node.pk, "code": node.code,
                                            "name": node.name, "level": Level.GRID,
                                            "generated": node.generated}})
        for feature in features:
            feature["properties"] = {"code": feature["properties"]["code"]}
        cache.set(cache_key, features)
    body = json.dumps({"type": "FeatureCollection", "features": features},
                      ensure_ascii=False, separators=(",", ":"))
    return body.encode()


def timed(fn) -> tuple[float, bytes]:
    started = time.perf_counter()
    body = fn()
    return time.perf_counter() - started, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--zooms", type=int, nargs="+", default=[8, 9],
                        help="map zoom levels to serve the mesh for (default 8 9)")
    parser.add_argument("--repeat", type=int, default=5, help="cached requests timed (median)")
    args = parser.parse_args()
    demo_database(args.reuse)

    from django.core.cache import cache
    from django.test import Client
    from django.utils.text import compress_string

    from shanzhi.accounts.models import Role, User
    from shanzhi.accounts.scope import Scope
    from shanzhi.accounts.services import token_create
    from shanzhi.geo.index import get_index
    from shanzhi.geo.models import Grid, Region
    from shanzhi.geo.selectors import grid_mesh

    admin = User.objects.filter(role=Role.CITY_ADMIN).order_by("pk").first()
    scope = Scope.for_user(admin)
    region = Region.objects.current().get(code=admin.region.code)
    total = Grid.objects.current().filter(path__startswith=region.path).count()
    started = time.perf_counter()
    get_index()
    print(f"spatial index built in {time.perf_counter() - started:.2f} s "
          "(once per process; every locate needs it)")
    print(f"city {region.code} {region.name}: {total:,} grids; user {admin.username}\n")

    def clear():
        cache.clear()

    rows, ok = [], True
    for zoom in args.zooms:
        for name, fn in (
                ("before", lambda z=zoom: baseline_mesh(region, z, f"bench:mesh:{z}")),
                ("after", lambda z=zoom: grid_mesh(scope=scope, region=region,
                                                   zoom=z).encode())):
            clear()
            cold, body = timed(fn)
            warm = statistics.median(timed(fn)[0] for _ in range(args.repeat))
            served = len(json.loads(body)["features"])
            rows.append((zoom, name, served, len(body), len(compress_string(body)), cold, warm))
            if name == "after" and served != total:
                ok = False
    header = (f"{'zoom':>4}  {'way':<7}{'grids':>8}  {'raw KB':>8}  {'gzip KB':>8}  "
              f"{'cold ms':>8}  {'cached ms':>9}")
    print(header)
    print("-" * len(header))
    for zoom, name, served, raw, gz, cold, warm in rows:
        print(f"{zoom:>4}  {name:<7}{served:>8,}  {raw / 1024:>8,.0f}  {gz / 1024:>8,.0f}  "
              f"{cold * 1000:>8,.0f}  {warm * 1000:>9,.1f}")
    print()
    for zoom in args.zooms:
        before, after = (r for r in rows if r[0] == zoom)
        print(f"zoom {zoom}: after/before  raw {after[3] / before[3]:.2f}×  "
              f"gzip {after[4] / before[4]:.2f}×  cold {after[5] / before[5]:.2f}×  "
              f"cached {after[6] / before[6]:.2f}×")

    token = token_create(username=admin.username)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}",
                    HTTP_ACCEPT_ENCODING="gzip")
    for zoom in args.zooms:
        url = f"/api/v1/geo/regions/{region.code}/grids.geojson?zoom={zoom}&slim=true"
        client.get(url)
        times, response = [], None
        for _ in range(args.repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
        print(f"GET …/grids.geojson?zoom={zoom}&slim=true (cached, gzip): "
              f"{response.status_code}, {len(response.content) / 1024:,.0f} KB on the wire, "
              f"{statistics.median(times) * 1000:,.1f} ms")
    if not ok:
        print("the new mesh misses grids", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
