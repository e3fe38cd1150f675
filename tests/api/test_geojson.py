"""Map GeoJSON: scoped, simplified by zoom, cached with an ETag."""


def test_children_of_the_city_are_its_districts(client, personas, bearer):
    response = client.get("/api/v1/geo/regions/320500/children.geojson?zoom=12",
                          headers=bearer(personas.admin))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/geo+json")
    features = response.json()["features"]
    assert sorted(f["properties"]["code"] for f in features) == ["320505", "320506"]
    assert all(f["properties"]["children"] == 1 for f in features)


def test_children_of_a_community_are_its_grids(client, personas, bearer, territory):
    response = client.get(f"/api/v1/geo/regions/{territory.west_community.code}/children.geojson",
                          headers=bearer(personas.west_operator))
    assert sorted(f["properties"]["code"] for f in response.json()["features"]) == [
        g.code for g in territory.west_grids]


def test_a_grid_worker_gets_only_their_grid(client, personas, bearer, territory):
    response = client.get(f"/api/v1/geo/regions/{territory.west_community.code}/grids.geojson",
                          headers=bearer(personas.worker))
    assert [f["properties"]["code"] for f in response.json()["features"]] == [
        territory.west_grids[0].code]


def test_the_out_of_territory_persona_gets_404_everywhere(client, personas, bearer, territory):
    headers = bearer(personas.east_operator)
    for url in ("/api/v1/geo/regions/320505", "/api/v1/geo/regions/320505/children.geojson",
                "/api/v1/geo/regions/320505/grids.geojson",
                f"/api/v1/geo/regions/{territory.west_community.code}/children.geojson"):
        response = client.get(url, headers=headers)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/geo/search?q=3205050", headers=headers).json() == []
    assert client.get("/api/v1/geo/search?q=西", headers=headers).json() == []


def test_search_finds_regions_and_grids_by_code_or_name(client, personas, bearer, territory):
    hits = client.get("/api/v1/geo/search?q=东第2", headers=bearer(personas.admin)).json()
    assert [(h["level"], h["code"]) for h in hits] == [("grid", territory.east_grids[1].code)]
    assert hits[0]["path"] == ["320500", "320506", "320506001", "320506001001"]


def test_a_repeated_request_with_the_etag_answers_304(client, personas, bearer):
    headers = bearer(personas.admin)
    first = client.get("/api/v1/geo/regions/320500/children.geojson?zoom=8", headers=headers)
    again = client.get("/api/v1/geo/regions/320500/children.geojson?zoom=8",
                       headers={**headers, "If-None-Match": first["ETag"]})
    assert again.status_code == 304


def test_a_lower_zoom_gives_fewer_vertices(client, personas, bearer, territory):
    import shapely
    from shapely.geometry import Point

    from shanzhi.geo.models import Region
    from shanzhi.geo.services import to_wkb

    # a round district: many vertices, which low zooms should drop
    Region.objects.filter(pk=territory.west.pk).update(
        geometry=to_wkb(Point(120.01, 31.01).buffer(0.009, quad_segs=64)))
    headers = bearer(personas.admin)

    def vertices(zoom):
        body = client.get(f"/api/v1/geo/regions/320500/children.geojson?zoom={zoom}",
                          headers=headers).json()
        west = next(f for f in body["features"] if f["properties"]["code"] == "320505")
        return len(shapely.get_coordinates(shapely.from_geojson(str(west["geometry"])
                                                                .replace("'", '"'))))

    assert vertices(6) < vertices(16)


def test_the_territory_of_a_city_admin_has_a_bbox(client, personas, bearer):
    body = client.get("/api/v1/geo/territory", headers=bearer(personas.admin)).json()
    assert body["bbox"] == [120.0, 31.0, 120.04, 31.02]
    assert body["grid_ids"] is None


def test_the_slim_mesh_carries_only_codes(client, personas, bearer, territory):
    body = client.get("/api/v1/geo/regions/320500/grids.geojson?zoom=12&slim=true",
                      headers=bearer(personas.admin)).json()
    assert len(body["features"]) == 8
    assert all(set(f["properties"]) == {"code"} for f in body["features"])


def test_a_grid_has_its_own_detail_inside_the_scope_only(client, personas, bearer, territory):
    code = territory.west_grids[1].code
    body = client.get(f"/api/v1/geo/grids/{code}", headers=bearer(personas.west_operator)).json()
    assert body["name"] == "西第2网格"
    assert [a["code"] for a in body["ancestors"]] == ["320505", "320505001", "320505001001"]
    assert client.get(f"/api/v1/geo/grids/{code}",
                      headers=bearer(personas.worker)).status_code == 404
    assert client.get(f"/api/v1/geo/grids/{code}",
                      headers=bearer(personas.east_operator)).status_code == 404


def test_a_grid_worker_counts_only_their_grids_in_a_community(client, personas, bearer,
                                                              territory):
    body = client.get(f"/api/v1/geo/regions/{territory.west_community.code}",
                      headers=bearer(personas.worker)).json()
    assert body["children"] == 1


def test_geojson_is_gzipped_for_clients_that_accept_it(client, personas, bearer):
    response = client.get("/api/v1/geo/regions/320500/grids.geojson?zoom=12",
                          headers={**bearer(personas.admin), "Accept-Encoding": "gzip"})
    assert response["Content-Encoding"] == "gzip"
