from ninja import NinjaAPI

api = NinjaAPI(
    title="Redis key advisor API",
    version="1",
    description="Teams, instances, key namespaces, findings and scans of the Redis key design advisor.",
    urls_namespace="api",
)
