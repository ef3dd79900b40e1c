"""Fixtures for several sites of one controller: a site file with [[sites]] (the default shop
and a blog, each its own name, origins and cookie declaration) and an app serving it, each
site's notice published."""
import pytest
from sqlalchemy import select

from consent_server.consent import notices
from consent_server.extensions import db
from consent_server.models import ConsentEvent, utcnow

TWO_SITES = '''
controller = "Eksempel AS"
contact = "post@eksempel.no"

[[providers]]
name = "Google"
entity = "Google Ireland Limited"
country = { nb = "Irland", en = "Ireland" }
transfer = "dpf"
transfer_to = { nb = "USA", en = "the USA" }
purposes = ["analytics", "marketing"]

[[cookies]]
purpose = "necessary"
name = "consent"
provider = "Eksempel AS"
lifetime = { nb = "12 måneder", en = "12 months" }
description = { nb = "Husker valget ditt.", en = "Remembers your choice." }

[[cookies]]
purpose = "analytics"
name = "_ga"
provider = "Google Ireland Limited"
lifetime = { nb = "13 måneder", en = "13 months" }
description = { nb = "Besøksstatistikk.", en = "Visitor statistics." }

[[sites]]
id = "default"
name = "Eksempel nettbutikk"
origins = [{shop}]

[[sites]]
id = "blog"
name = "Eksempelbloggen"
origins = [{blog}]
[sites.privacy]
url = {{ nb = "https://blog.example/personvern", en = "https://blog.example/privacy" }}

[[sites.cookies]]
purpose = "necessary"
name = "consent"
provider = "Eksempel AS"
lifetime = {{ nb = "12 måneder", en = "12 months" }}
description = {{ nb = "Husker valget ditt.", en = "Remembers your choice." }}

[[sites.cookies]]
purpose = "analytics"
name = "{blog_cookie}"
provider = "Google Ireland Limited"
lifetime = {{ nb = "13 måneder", en = "13 months" }}
description = {{ nb = "Lesertall.", en = "Reader numbers." }}
'''
SHOP, BLOG = "https://shop.example", "https://blog.example"


@pytest.fixture
def two_sites_file(tmp_path):
    """two_sites_file(shop=..., blog=..., blog_cookie=...): a site file of two sites (the
    default shop and a blog) for these origins; its path."""

    def write(shop=SHOP, blog=BLOG, blog_cookie="_blog_stats", name="site.toml"):
        text = TWO_SITES.replace("{shop}", f'"{shop}"').replace("{blog}", f'"{blog}"')
        text = text.replace("{blog_cookie}", blog_cookie).replace("{{", "{").replace("}}", "}")
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def publish_sites():
    """publish_sites(app, material=False): publish every site's notice as rendered now; their
    current versions by site id."""

    def publish(app, material=False, only=None):
        with app.app_context():
            for site in app.extensions["consent_sites"]:
                if only is None or site.id == only:
                    notices.publish(db.session, site, app.config["LANGUAGES"], utcnow(),
                                    material)
            return {site.id: notices.current(db.session, site.id).version
                    for site in app.extensions["consent_sites"]}

    return publish


@pytest.fixture
def two_sites(app_factory, two_sites_file, publish_sites):
    """An app serving the shop (default) and the blog, both notices published: (app,
    versions by site)."""
    app = app_factory(SITE_FILE=str(two_sites_file()))
    return app, publish_sites(app)


@pytest.fixture
def events_of_site():
    """events_of_site(app, site): the ledger's events recorded for a site, in order."""

    def read(app, site):
        with app.app_context():
            return db.session.execute(select(ConsentEvent).where(ConsentEvent.site == site)
                                      .order_by(ConsentEvent.seq)).scalars().all()

    return read
