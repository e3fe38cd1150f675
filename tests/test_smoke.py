def test_the_locate_endpoint_finds_the_grid_of_a_point(client, personas, bearer):
    response = client.get("/api/v1/geo/locate", {"lat": "31.015", "lng": "120.005"},
                          headers=bearer(personas.west_operator))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["grid"]["code"] == "320505001001001"
    assert [r["code"] for r in body["regions"]] == ["320505001001", "320505001", "320505", "320500"]
