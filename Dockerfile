# One image for web and workers. For GPU workers, build with TORCH_INDEX pointing at a CUDA wheel index.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=palimpsest.settings_production
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
WORKDIR /app
COPY requirements.txt .
RUN pip install --extra-index-url "$TORCH_INDEX" -r requirements.txt
COPY . .
RUN useradd --create-home --uid 1000 palimpsest && mkdir -p /data && chown palimpsest /data
USER palimpsest
EXPOSE 8000
CMD ["gunicorn", "palimpsest.wsgi", "--bind", "0.0.0.0:8000"]
