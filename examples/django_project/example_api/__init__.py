"""A minimal Django project whose views check bearer tokens by hand; see settings.py."""
