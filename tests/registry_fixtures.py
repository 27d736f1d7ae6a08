"""A small registered design for scan tests: team `shop`, instance `prod-shop-cache` at a given
Redis URL, namespace `product-cache` (`prod:shop:product:v1:<id:int>`)."""

from advisor.registry.models import Instance, Namespace, Team


def register_shop(url: str, **namespace: object) -> Instance:
    team = Team.objects.create(name="shop")
    instance = Instance.objects.create(
        name="prod-shop-cache",
        environment="prod",
        product="redis-oss",
        memory_gb=1,
        clustering="none",
        eviction_policy="allkeys-lru",
        auth="none",
        tls=False,
        connection_url=url,
        connection_credential="none",
    )
    Namespace.objects.create(
        **{
            "name": "product-cache",
            "team": team,
            "instance": instance,
            "pattern": "prod:shop:product:v1:<id:int>",
            "classification": "disposable",
            "data_type": "string",
            "ttl_mode": "absolute",
            "ttl_seconds": 600,
            "ttl_jitter_seconds": 60,
            "value_bytes_typical": 100,
            "value_bytes_max": 1000,
            "cardinality": 1000,
            "data_classification": "internal",
            "source_of_truth": "shop-db",
            **namespace,
        }
    )
    return instance
