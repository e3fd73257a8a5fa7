"""The inbox REST API: thin views over inbox.selectors and inbox.services (see inbox/urls.py)."""
