# Production image: one image, three roles (web, worker, beat) chosen by the compose command.
FROM python:3.11-slim
# Production unless told otherwise: keys must come from the environment, never generated per container.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SWITCHBOARD_VAR=/app/var SWITCHBOARD_ENV=production
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home switchboard && mkdir -p var && chown -R switchboard var
USER switchboard
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "config.asgi:application"]
