import pytest
@pytest.mark.django_db
def test_probe(client, user, token_for):
    h = {"Authorization": f"Bearer {token_for(user)}"}
    for kwargs in [dict(), dict(data="", content_type="application/json"), dict(data="{}", content_type="application/json"),
                   dict(data='{"path": "/ws/docs/x"}', content_type="application/json"), dict(data='{"path": "nope"}', content_type="application/json"),
                   dict(data='null', content_type="application/json"), dict(data='[1]', content_type="application/json"), dict(data='{bad', content_type="application/json"), dict(data='a=b', content_type="application/x-www-form-urlencoded")]:
        r = client.post("/api/v1/realtime/tickets", headers=h, **kwargs)
        print(kwargs, r.status_code, r.content[:300])
    assert 0
