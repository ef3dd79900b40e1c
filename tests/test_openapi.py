"""/openapi.json documents every error as it is sent: application/problem+json, RFC 9457."""


def resolve(spec, ref_or_response):
    ref = ref_or_response.get("$ref")
    if ref is None:
        return ref_or_response
    node = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_error_response_is_documented_as_problem_json(client):
    spec = client.get("/openapi.json").json
    errors = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert "default" in operation["responses"], (method, path)
            for status, response in operation["responses"].items():
                if status.startswith(("1", "2", "3")):
                    continue
                content = resolve(spec, response).get("content")
                assert content is not None and list(content) == ["application/problem+json"], \
                    (method, path, status, content)
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}
                errors += 1
    assert errors >= 10
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status"}
    assert {"detail", "errors"} <= set(problem["properties"])
    assert "message" not in problem["properties"] and "code" not in problem["properties"]


def test_a_real_error_has_the_documented_shape(client):
    spec = client.get("/openapi.json").json
    documented = set(spec["components"]["schemas"]["Problem"]["properties"])
    resp = client.post("/api/v1/consents", json={"choices": {"analytics": "yes"}})
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert set(resp.json) <= documented and {"type", "title", "status"} <= set(resp.json)
