"""Settings of the tutorial-style pipeline: startproject defaults plus Channels' core Redis layer."""
import os

import dj_database_url

SECRET_KEY = "bench-tutorial-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["daphne", "django.contrib.contenttypes", "channels", "bench.tutorial"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "bench.tutorial.urls"
ASGI_APPLICATION = "bench.tutorial.asgi.application"
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
USE_TZ = True
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [os.environ["REDIS_URL"].rstrip("/") + "/5"]},
    }
}
WEBHOOK_APP_SECRET = os.environ.get("BENCH_WA_SECRET", "bench-app-secret")
