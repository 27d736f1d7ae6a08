# Production image: gunicorn serves the app, whitenoise the static files; the same image runs
# the Celery worker and beat (see compose.yaml). Runs as an unprivileged user.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ADVISOR_VAR_DIR=/app/var

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings but no secrets or database: a throwaway key (settings demand 50+ characters).
RUN ADVISOR_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app advisor \
    && mkdir -p /app/var && chown -R advisor /app/var

USER advisor
EXPOSE 8000
CMD ["gunicorn", "advisor.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
