from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "advisor.accounts"
    verbose_name = "Accounts and API tokens"
