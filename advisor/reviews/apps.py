from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "advisor.reviews"
    verbose_name = "Design reviews"
