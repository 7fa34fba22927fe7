"""Patterns of injection that hides in data: fake turns and delimiters, false authority, orders to
send data away, notes to "the AI" inside documents and tool results, and encoded instructions."""

from __future__ import annotations

from llmaas.adapters.guardrails.pattern_syntax import (
    AI_TRIGGER,
    OUTSIDE_TRIGGER,
    Rule,
    either,
    rule,
)
from llmaas.domain.guardrails import Threat

DELIMITER_RULES: tuple[Rule, ...] = (
    rule(
        Threat.DELIMITER_INJECTION,
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|"
        r"begin_of_text|end|channel|message|start)\|>|\[/?inst\]|<</?sys>>|<(?:start|end)_of_turn>",
        trigger=r"<\||\[/?inst\]|<</?sys|_of_turn>",
    ),
    rule(
        Threat.DELIMITER_INJECTION,
        r"</?(?:system|système|systeme|sys|developer|développeur|admin|instructions?|utilisateur|user_input)>",
        trigger=r"(?:system|système|systeme|sys|developer|développeur|admin|instructions?|utilisateur|user_input)>",
    ),
    rule(
        Threat.DELIMITER_INJECTION,
        r"(?:#{2,}|-{3,}|={3,}|\*{3,}|\[|<)\s*"
        + either(r"end|fin|close|stop|begin|start|début|new|nouvelles?")
        + r"\b[^\n]{0,40}?\b"
        + either(
            r"user|utilisateur|input|data|données|document|prompt|context|contexte|"
            r"conversation|instructions?|system|système"
        )
        + r"[^\n]{0,40}?(?:#{2,}|-{3,}|={3,}|\*{3,}|\]|>)"
        + r".{0,200}?\b"
        + either(
            r"system|système|admin|administrat(?:or|eur)|instructions?|consignes?|"
            r"new task|nouvelle tâche|assistant|override|ignore|developer|"
            r"développeur"
        ),
        trigger=r"##|---|===|\*\*\*|\[|<",
    ),
    rule(
        Threat.DELIMITER_INJECTION,
        r"(?:^|\n|#{2,} ?|\] ?)"
        + either(
            r"system|système|systeme|admin|administrator|administrateur|root|"
            r"developer|développeur"
        )
        + r" ?(?:override|message|note|prompt|notice|instruction|update|alert|mise à jour)? ?: "
        + either(
            r"the user|l'utilisateur|new|nouvelles?|ignore|ignorez|you|tu|vous|"
            r"override|grant|accorde|all previous|les instructions|user is|admin"
        ),
        trigger=r"system|systè|systeme|admin|root|develop|dévelop",
    ),
)

DELIMITER_RULES += (
    rule(
        Threat.DELIMITER_INJECTION,
        r"(?:^|\n|-{3,} ?|#{2,} ?|\] ?)"
        + either(
            r"system|système|sistema|override|admin|important system|"
            r"nota del sistema|nota di sistema|systemhinweis|note système|"
            r"consigne prioritaire du système"
        )
        + r" ?(?:note|update|message|override|notice|alert|nota|mise à jour)? ?: "
        + r".{0,100}?\b"
        + either(
            r"you|your|tu|ton|tes|vous|votre|before (?:you )?(?:answer|respond)|"
            r"append|call|grant|ignore|reveal|disable|proceed|répon\w*|accorde|debe|"
            r"deve|must|required|cleanup"
        ),
        trigger=r"system|systè|sistema|override|admin|nota d|systemhinweis|consigne prioritaire",
    ),
    rule(
        Threat.DELIMITER_INJECTION,
        r"(?:^|\n) ?(?:assistant|ai|model|ia|bot) ?: ?"
        + either(
            r"sure|of course|certainly|ok|okay|absolutely|here is|here's|bien sûr|"
            r"voici|d'accord"
        ),
        trigger=r"(?:assistant|ai|model|ia|bot)\s*:",
    ),
)

AUTHORITY_RULES: tuple[Rule, ...] = (
    rule(
        Threat.FALSE_AUTHORITY,
        r"\b(?:i am|i'm|je suis|c'est moi) (?:your|ton|votre) "
        + either(
            r"admin|administrator|administrateur|developer|développeur|creator|"
            r"créateur|owner|propriétaire|operator|opérateur|programmer|programmeur|"
            r"maker"
        ),
        trigger=r"admin|developer|développeur|creator|créateur|owner|propriétaire|operator|opérateur|programm|maker",
    ),
    rule(
        Threat.FALSE_AUTHORITY,
        r"\b(?:this is|ceci est|c'est) (?:an? |un )?(?:authori[sz]ed|sanctioned|approved|autorisé|officiel) "
        r"(?:\w+ )?(?:test|audit|red[- ]team|exercise|exercice)"
        r"|\b(?:sur ordre de la direction|by order of (?:the )?management)",
        trigger=r"authori|sanctioned|approved|autorisé|officiel|direction|management",
    ),
)

AUTHORITY_RULES += (
    rule(
        Threat.FALSE_AUTHORITY,
        r"\b(?:note|message) (?:from|de la part) (?:the |du |de l')?"
        + either(
            r"developer|developers|admin|administrator|system|operator|développeur|"
            r"administrateur|système|opérateur"
        )
        + r"\b|\bauthori[sz]ed (?:diagnostic|test|audit|red[- ]team)"
        + r"|\b(?:you are|you're) (?:legally )?(?:required|obligated|compelled) (?:by law )?to "
        + r"(?:provide|comply|answer|disclose)|\bby (?:federal|government|legal) authority"
        + r"|\b(?:testing|test) (?:your|tes|vos) (?:safety |security )?"
        + either(r"filters|guardrails|restrictions|filtres|garde-fous"),
        trigger=r"developer|admin|system|operator|développeur|système|opérateur|required|obligated|compelled|authority|filter|guardrail|restriction|filtre|garde-fou",
    ),
)

_DATA = either(
    r"contents|records|data|données|customer|client|clients|files?|fichiers?|"
    r"history|historique|emails|messages|passwords?|mots de passe|"
    r"credentials|identifiants|api keys?|clés d'api|environment variables|"
    r"order data"
)
_SEND = either(
    r"send|forward|transfer|email|upload|post|leak|envoie|envoyer|envoie-les|"
    r"transfère|transférer|exfiltre"
)
_OUTSIDE = either(r"external(?:ly)?|externe|[\w.+-]+@[\w-]+\.[\w.]+|https?://")

EXFILTRATION_RULES: tuple[Rule, ...] = (
    rule(
        Threat.EXFILTRATION,
        _SEND + r"\b.{0,60}?\b" + _DATA + r"\b.{0,80}?" + _OUTSIDE,
        trigger=OUTSIDE_TRIGGER,
    ),
    rule(
        Threat.EXFILTRATION,
        _DATA + r"\b.{0,60}?\b" + _SEND + r" (?:them|it|les|le|la)? ?.{0,40}?" + _OUTSIDE,
        trigger=OUTSIDE_TRIGGER,
    ),
)

EXFILTRATION_RULES += (
    rule(
        Threat.EXFILTRATION,
        either(
            r"send|forward|transfer|email|e-mail|upload|post|leak|envoie|envoyer|"
            r"envoie-les|transfère|transférer|joins-y|joins|exfiltre|exfiltrer|"
            r"exfiltrate|copie|partage"
        )
        + r"\b.{0,100}?\b"
        + either(r"to|à|a|vers|toward|pour destinataire")
        + r" (?:the |l'|une? )?(?:address |adresse )?"
        + either(r"external|externe|[\w.+-]+@[\w-]+\.[\w.]+|https?://"),
        embedded_only=True,
        trigger=OUTSIDE_TRIGGER,
    ),
    rule(
        Threat.EXFILTRATION,
        r"\b(?:exfiltrate|exfiltrer|exfiltre|exfiltrez)\b",
        trigger=r"exfiltr",
    ),
    rule(
        Threat.EXFILTRATION,
        either(r"send|forward|transfer|envoie|transfère|joins|joins-y|attach")
        + r"\b.{0,60}?\b"
        + either(
            r"full conversation|entire conversation|conversation history|"
            r"chat history|historique complet|l'historique|tous les messages|"
            r"all (?:the )?messages|liste complète des clients|customer list|"
            r"all customer|données clients|boîte de réception|inbox"
        ),
        trigger=r"conversation|history|historique|messages|liste complète|customer|données clients|boîte de réception|inbox",
    ),
)

EMBEDDED_RULES: tuple[Rule, ...] = (
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        either(r"notice|warning|message|avis|avertissement")
        + r" "
        + either(r"to|for|à|pour")
        + r" (?:any |all |every |tout |toute |the |l')?"
        + either(r"ai|ia|llm|assistant|language model|model")
        + r"s?\b",
        trigger=AI_TRIGGER,
    ),
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        either(r"ai|ia|llm|model|modèle|assistant|agents?")
        + r" (?:assistant |agents? )?"
        + either(
            r"reading this|processing this|who reads? this|qui lit ceci|"
            r"qui lira ceci|summari[sz]ing this|integrating this"
        ),
        trigger=AI_TRIGGER,
    ),
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        either(r"call|invoke|run|use|execute|appelle|utilise|exécute")
        + r"\b.{0,60}?\b"
        + either(r"without|sans")
        + r" (?:any |l'|the |user )?"
        + either(r"approval|confirmation|asking|permission|validation|autorisation|accord"),
        trigger=r"without|sans",
    ),
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        either(r"in|to|at the end of|dans|à la fin de")
        + r" (?:every|each|all|any|chaque|toutes? (?:les|vos|tes)) (?:future )?"
        + either(
            r"reply|replies|response|responses|answer|answers|report|réponses?|" r"message|messages"
        )
        + r"\b",
        embedded_only=True,
        trigger=r"repl|respons|answer|report|réponse|message",
    ),
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        either(r"end|append|add|include|termine|ajoute")
        + r" (?:to )?(?:every|each|all|chaque) (?:future )?"
        + either(r"reply|response|answer|report|réponse|message"),
        trigger=r"repl|respons|answer|report|réponse|message",
    ),
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        either(
            r"note|message|instructions?|p\.?-?s\.?|important|attention|nb|reminder|"
            r"rappel|consigne|avis"
        )
        + r" "
        + either(r"for|to|pour|à|destinée? à|adressée? à")
        + r" (?:the |l'|les? |la |any |tout |toute )?"
        + either(r"ai|assistant|ia|llm|model|modèle|agent|chatbot|bot|language model|gpt|" r"robot")
        + r"s?\b",
        trigger=AI_TRIGGER,
    ),
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        r"(?:#|//|/\*|<!--|\[) ?(?:ai|ia|llm|assistant|note to ai|note pour l'ia) ?: ",
        trigger=r"\bai\b|\bia\b|llm|assistant|note",
    ),
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        r"(?:^|[.!?:;\n] ?)(?:assistant|ia|ai|chatbot|agent|llm) ?, "
        + either(
            r"ajoute|add|include|inclus|send|envoie|ignore|réponds|reply|respond|say|"
            r"dis|approve|approuve|mark|marque|delete|supprime|transfère|forward|"
            r"call|appelle|execute|exécute|visit|click"
        ),
        trigger=r"assistant|\bia\b|\bai\b|chatbot|agent|llm",
    ),
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        either(r"when|whenever|once|lorsque|quand|dès que")
        + r" (?:you|tu|vous) "
        + either(
            r"read|process|summari[sz]e|see|parse|liras|lis|résumeras|résumes|"
            r"traiteras|lirez|analyseras|résumerez"
        )
        + r" "
        + either(r"this|these|ce|cet|cette|ces"),
        embedded_only=True,
        trigger=r"when|whenever|once|lorsque|quand|dès que",
    ),
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        either(r"call|invoke|use|run|execute|trigger|appelle|utilise|exécute|lance|" r"déclenche")
        + r" (?:the |l')?(?:tool |function |outil |fonction )?`?[a-z]+_[a-z_]+`?\b",
        embedded_only=True,
        trigger=r"[a-z]_[a-z]",
    ),
    rule(
        Threat.EMBEDDED_INSTRUCTION,
        either(r"new|updated|nouvelles?|mise à jour des?")
        + r" "
        + either(r"instructions?|task|tâche|consignes?|policy|politique|directives?")
        + r" ?:",
        embedded_only=True,
        trigger=r"instruction|task|tâche|consigne|policy|politique|directive",
    ),
)

ENCODED_RULES: tuple[Rule, ...] = (
    rule(
        Threat.OBFUSCATION,
        either(r"decode|décode|décoder|dekodiere|decodifica|descodifica|unscramble|" r"déchiffre")
        + r"\b.{0,80}?\b"
        + either(
            r"do|follow|execute|obey|fais|suis|exécute|respond to|answer|réponds|"
            r"apply|carry out|befolge|sigue|segui"
        )
        + r"\b.{0,30}?"
        + either(
            r"what it says|the instructions?|exactly|ce qu'elle dit|ce qu'il dit|"
            r"l'instruction|la instrucción|it contains|inside|qu'elle contient|"
            r"qu'il contient|to it"
        ),
        trigger=r"decod|décod|dekod|descodif|unscrambl|déchiffr",
    ),
    rule(
        Threat.OBFUSCATION,
        either(r"rot-?13|base-?64|hex|hexadecimal|binary|binaire|morse|caesar|césar")
        + r"\b.{0,80}?\b"
        + either(
            r"execute|follow|comply|obey|do what|exécute|suis|fais ce|obéis|befolge|"
            r"sigue|esegui"
        ),
        trigger=r"rot|base|hex|binary|binaire|morse|caesar|césar",
    ),
    rule(
        Threat.OBFUSCATION,
        r"\bread (?:this|it|the following) backwards\b|\blis (?:ceci|ce texte) à l'envers\b",
        trigger=r"backwards|l'envers",
    ),
)
