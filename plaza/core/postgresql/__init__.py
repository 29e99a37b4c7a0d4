"""Django's PostgreSQL backend with a connection pool that fails fast while the database is
down (settings.DATABASES uses it when DATABASE_POOL is on; see base.py)."""
