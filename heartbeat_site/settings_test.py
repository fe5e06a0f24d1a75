"""Settings for the test suite: the real settings with test secrets filled in.

The environment still decides the database and channel layer, so the same suite runs on the
embedded default (SQLite + in-memory layer) and on PostgreSQL + Redis (DATABASE_URL / REDIS_URL).
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "s" * 40)
os.environ.setdefault("API_KEY_PEPPER", "test-pepper-" + "p" * 30)
os.environ.setdefault("ENV_FILE", "/nonexistent/.env")  # a developer's .env must not leak into tests
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="heartbeat-test-"))

from heartbeat_site.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests only

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the end-to-end tests start real server and worker processes on it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
