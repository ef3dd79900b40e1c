"""The test client and CLI runner of tests/conftest.py: under pytest-flask's request context,
pushed for the whole of every test that uses `app`, each request and each command still runs
in an app context of its own, as under a real server and `flask`."""
from flask import g


def test_each_request_negotiates_its_own_language(client):
    """Flask-Babel keeps the negotiated locale on `g`: one app context shared by two requests
    would serve the second page in the first one's language."""
    english = client.get("/privacy", headers={"Accept-Language": "en"})
    bokmal = client.get("/privacy", headers={"Accept-Language": "nb"})
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert '<html lang="nb">' in bokmal.get_data(as_text=True)


def test_two_signed_in_clients_stay_two_users(app, staff):
    """Flask-Login keeps the signed-in user on `g`: a shared app context would show the
    marketer the admin's pages."""
    admin, marketer = staff("admin"), staff("marketing")
    assert admin.get("/console/admin/keys").status_code == 200
    assert marketer.get("/console/admin/keys").status_code == 403
    assert admin.get("/console/admin/keys").status_code == 200


def test_a_request_leaves_the_tests_g_alone(app, client):
    """What a request puts on `g` stays in its own context, not in the one the test holds."""
    g.marker = "the test's"
    client.get("/privacy", headers={"Accept-Language": "en"})
    assert g.marker == "the test's" and not hasattr(g, "_flask_babel")


def test_a_command_of_another_app_runs_in_that_app(app, app_factory):
    """`flask consent ...` of an app from app_factory uses that app's settings, not those of
    the app whose context pytest-flask pushed."""
    other = app_factory(RETENTION_DAYS="7")
    result = other.test_cli_runner().invoke(args=["consent", "purge-expired"])
    assert result.exit_code == 0, result.output
    assert "ended over 7 days ago" in result.output
