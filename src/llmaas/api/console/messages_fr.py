"""The console's French: English text (as the templates write it) -> French.

Role, capability and lifecycle names are here too, since pages show them through ``t``. A test checks
that every text a template wraps in ``t(...)`` has its entry.
"""

from __future__ import annotations

FRENCH: dict[str, str] = {
    "API key": "Clé d'API",
    "API keys": "Clés d'API",
    "Action": "Action",
    "Actions": "Actions",
    "Admin API key": "Clé d'API d'administration",
    "Allowed models (none checked: every model of the organization)": (
        "Modèles autorisés (aucun coché : tous les modèles de l'organisation)"
    ),
    "Allowed models": "Modèles autorisés",
    "Audio minutes": "Minutes d'audio",
    "Audit trail": "Journal d'audit",
    "By key": "Par clé",
    "By model": "Par modèle",
    "Cap": "Plafond",
    "Capabilities": "Capacités",
    "Catalog": "Catalogue",
    "Console": "Console",
    "Context": "Contexte",
    "Copied": "Copiée",
    "Copy it now: it will not be shown again.": (
        "Copiez-la maintenant : elle ne sera plus jamais affichée."
    ),
    "Copy": "Copier",
    "Cost": "Coût",
    "Create a key": "Créer une clé",
    "Create": "Créer",
    "Created": "Créée le",
    "Done": "Terminé",
    "Edit": "Modifier",
    "Error rate": "Taux d'erreur",
    "Expires on": "Expire le",
    "Export CSV": "Export CSV",
    "Failed": "Échecs",
    "Figures refresh every 5 seconds.": "Les chiffres se mettent à jour toutes les 5 secondes.",
    "From": "Depuis",
    "Hide revoked keys": "Masquer les clés révoquées",
    "Input": "Entrée",
    "Key": "Clé",
    "Last 15 minutes": "15 dernières minutes",
    "Latency p50": "Latence p50",
    "Latency p95": "Latence p95",
    "Lifecycle": "Cycle de vie",
    "Local login: no identity provider is configured. Paste an admin API key (llmaas keys create "
    "--admin). Configure OpenID Connect for your team before going to production.": (
        "Connexion locale : aucun fournisseur d'identité n'est configuré. Collez une clé d'API "
        "d'administration (llmaas keys create --admin). Configurez OpenID Connect pour votre "
        "équipe avant la mise en production."
    ),
    "Log in to the llmaas console": "Connexion à la console llmaas",
    "Log in with single sign-on": "Se connecter avec l'authentification unique (SSO)",
    "Log in": "Se connecter",
    "Log out": "Se déconnecter",
    "Message": "Message",
    "Model": "Modèle",
    "Models": "Modèles",
    "Monthly budget (EUR)": "Budget mensuel (EUR)",
    "Name": "Nom",
    "No keys yet.": "Aucune clé pour l'instant.",
    "No monthly cap on this tier.": "Pas de plafond mensuel pour cette offre.",
    "No records yet.": "Aucun enregistrement pour l'instant.",
    "No usage in this period.": "Aucune consommation sur cette période.",
    "Not allowed": "Accès refusé",
    "Organization": "Organisation",
    "Output": "Sortie",
    "Overview": "Vue d'ensemble",
    "Peak": "Pic",
    "Playground": "Bac à sable",
    "Prices in euros per million tokens (per minute for audio). No model is retired with less "
    "than three months notice.": (
        "Prix en euros par million de jetons (par minute pour l'audio). Aucun modèle n'est retiré "
        "avec moins de trois mois de préavis."
    ),
    "Prompts and responses are never stored.": "Les requêtes et les réponses ne sont jamais stockées.",
    "Quotas (empty: no limit of its own)": "Quotas (vide : pas de limite propre)",
    "Quotas": "Quotas",
    "Reasoning": "Raisonnement",
    "Remaining credit": "Crédit restant",
    "Replacement": "Remplaçant",
    "Requests per minute": "Requêtes par minute",
    "Requests per minute, last 15 minutes": "Requêtes par minute, 15 dernières minutes",
    "Requests": "Requêtes",
    "Revoke this key? Applications using it will get 401 at once.": (
        "Révoquer cette clé ? Les applications qui l'utilisent recevront aussitôt une erreur 401."
    ),
    "Revoke": "Révoquer",
    "Rotate": "Renouveler",
    "Save": "Enregistrer",
    "Send": "Envoyer",
    "Show revoked keys": "Afficher les clés révoquées",
    "Spend this month": "Dépenses du mois",
    "Status": "État",
    "Switch": "Changer",
    "Target": "Cible",
    "Test a model with one of your API keys. The key stays in this page; the request is metered "
    "like any other.": (
        "Essayez un modèle avec l'une de vos clés d'API. La clé reste dans cette page ; la requête "
        "est comptée comme toute autre."
    ),
    "The latest {count} records, newest first. Each record is chained to the one before it, so a "
    "rewritten record shows.": (
        "Les {count} derniers enregistrements, du plus récent au plus ancien. Chacun est chaîné au "
        "précédent : un enregistrement réécrit se voit."
    ),
    "Tier": "Offre",
    "This page was reached over plain HTTP from another machine: browsers will not keep the session "
    "cookie. Serve llmaas over HTTPS (see TLS in the README).": (
        "Cette page a été ouverte en HTTP simple depuis une autre machine : les navigateurs ne "
        "garderont pas le cookie de session. Servez llmaas en HTTPS (voir TLS dans le README)."
    ),
    "Tokens per day": "Jetons par jour",
    "Tokens per minute": "Jetons par minute",
    "Tokens this month": "Jetons ce mois-ci",
    "Totals": "Totaux",
    "Usage": "Consommation",
    "Use your company account. Your identity provider applies its own rules, such as "
    "multi-factor authentication.": (
        "Utilisez votre compte d'entreprise. Votre fournisseur d'identité applique ses propres "
        "règles, comme l'authentification multifacteur."
    ),
    "When": "Quand",
    "Who": "Qui",
    "You are logged out.": "Vous êtes déconnecté.",
    "Your new key": "Votre nouvelle clé",
    "Your role in this organization does not give access to this page. Ask an owner or an "
    "administrator of your organization.": (
        "Votre rôle dans cette organisation ne donne pas accès à cette page. Demandez à un "
        "propriétaire ou à un administrateur de votre organisation."
    ),
    "active": "active",
    "admin": "admin",
    "all": "tous",
    "by day, key and model": "par jour, clé et modèle",
    "by token type": "par type de jeton",
    "expired": "expirée",
    "none": "aucun",
    "per month": "par mois",
    "req/min": "req/min",
    "revoked": "révoquée",
    "tokens/min": "jetons/min",
    "unavailable": "indisponible",
    "until": "jusqu'au",
    "used": "utilisé",
    "{days} days until end of support": "{days} jours avant la fin du support",
    "{days} days": "{days} jours",
    # roles
    "operator": "opérateur",
    "owner": "propriétaire",
    "billing": "facturation",
    "viewer": "lecteur",
    # capabilities
    "chat": "chat",
    "completions": "complétions",
    "embeddings": "embeddings",
    "tools": "outils",
    "json_output": "sortie JSON",
    "vision": "vision",
    "code": "code",
    "reasoning": "raisonnement",
    "rerank": "reclassement",
    "audio": "audio",
    "safety": "modération",
    "translation": "traduction",
    "image_generation": "génération d'images",
    # lifecycle phases
    "preview": "aperçu",
    "production": "production",
    "deprecated": "obsolète",
    "retired": "retiré",
    # login refusals (ConsoleSessions)
    "This console requires multi-factor authentication, and your identity provider reports a "
    "single-factor login.": (
        "Cette console exige une authentification multifacteur, et votre fournisseur d'identité "
        "indique une connexion à un seul facteur."
    ),
    "Your account has no llmaas role. Ask your administrator to add you to an llmaas group of "
    "your organization.": (
        "Votre compte n'a aucun rôle llmaas. Demandez à votre administrateur de vous ajouter à un "
        "groupe llmaas de votre organisation."
    ),
    "Your identity provider did not log you in.": (
        "Votre fournisseur d'identité ne vous a pas connecté."
    ),
    "No identity provider is configured.": "Aucun fournisseur d'identité n'est configuré.",
    "This console logs in through single sign-on only.": (
        "Cette console ne permet de se connecter que par authentification unique (SSO)."
    ),
    "That API key is not valid.": "Cette clé d'API n'est pas valide.",
    "That API key is valid but is not an admin key.": (
        "Cette clé d'API est valide mais n'est pas une clé d'administration."
    ),
    "The login expired or was started in another browser. Try again.": (
        "La connexion a expiré ou a été commencée dans un autre navigateur. Réessayez."
    ),
    "The login's state does not match. Try again.": (
        "L'état de la connexion ne correspond pas. Réessayez."
    ),
}
