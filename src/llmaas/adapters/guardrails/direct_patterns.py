"""Patterns of direct injection, typed by the user: overriding the instructions, role play to escape
the rules, extracting the system prompt. English and French first, the commonest German, Spanish and
Italian phrasings after."""

from __future__ import annotations

from llmaas.adapters.guardrails.pattern_syntax import (
    ESCAPE_TRIGGER,
    EXTRACTION_TRIGGER,
    OVERRIDE_EN,
    OVERRIDE_FR,
    OVERRIDE_OTHER,
    QUALIFIERS,
    RULES_EN,
    RULES_FR,
    RULES_OTHER,
    START,
    Rule,
    either,
    rule,
)
from llmaas.domain.guardrails import Threat

OVERRIDE_RULES: tuple[Rule, ...] = (
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        START + OVERRIDE_EN + " " + QUALIFIERS + RULES_EN + r"\b",
        trigger=r"ignor|disregard|forget|skip|overrid|bypass|neglect|abandon|discard|aside|attention|follow|never ?mind|throw|erase|drop|disabl|deactivat|turn off|remov|circumvent",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        START + OVERRIDE_FR + " " + QUALIFIERS + RULES_FR + r"\b",
        trigger=r"ignor|oubli|tiens|tenez|abstraction|tomber|outre|contourn|désactiv|supprim|annul|enfrein",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        START + OVERRIDE_OTHER + " " + QUALIFIERS + RULES_OTHER + r"\b",
        trigger=r"ignori|vergiss|ignora|olvida|dimentica",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        START
        + either(r"ignore|disregard|forget|never mind")
        + " "
        + either(r"everything|all|anything|whatever|what")
        + " "
        + either(
            r"above|before|previously said|(?:you were|you've been|you have been|"
            r"i) (?:told|said|taught|instructed|given)"
        ),
        trigger=r"ignore|disregard|forget|never mind",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        either(r"peu importe|oublie|oubliez|ignore|ignorez|fais abstraction de")
        + r" (?:de )?(?:tout )?ce qu'on (?:t'a|vous a) (?:dit|demandé|appris|ordonné)",
        trigger=r"qu'on",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        r"no matter what (?:you were|you've been|you have been) told",
        trigger=r"no matter",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        either(r"previous|prior|above|earlier|original|initial|old")
        + " "
        + either(r"instructions|rules|guidelines|directives|prompts?")
        + r" (?:are|have been|were|is) (?:now )?"
        + either(r"void|cancell?ed|overridden|replaced|revoked|null|obsolete|lifted|" r"suspended"),
        trigger=r"void|cancel|overridden|replaced|revoked|null|obsolete|lifted|suspended",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        either(r"instructions|consignes|règles|directives")
        + " "
        + either(r"précédentes|antérieures|initiales|d'origine|ci-dessus")
        + r" (?:sont|est) (?:désormais |maintenant )?"
        + either(r"annulées|caduques|obsolètes|remplacées|supprimées|nulles|levées|" r"suspendues"),
        trigger=r"annulées|caduques|obsolètes|remplacées|supprimées|nulles|levées|suspendues",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        r"\b(?:tu n'obéis qu'à moi|vous n'obéissez qu'à moi|you (?:only|now) obey (?:only )?me|obey only me)",
        trigger=r"obéi|obey",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        r"\b(?:your|ton|votre) (?:true|real|actual|véritable|vrai|seul) "
        + either(r"goal|purpose|objective|mission|objectif|but|rôle")
        + r" (?:is|est) (?:to |de )?(?:obey|serve|help) ?me|\b(?:ton|votre) véritable objectif est de m'obéir",
        trigger=r"obey|serve|help|obéir",
    ),
)

OVERRIDE_RULES += (
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        START
        + either(r"ignore|disregard|forget|ignorez|oublie|oubliez")
        + r" (?:all |tout )?(?:of )?(?:the |ce qui est )?(?:above|previous|preceding|ci-dessus|précède)"
        + r"(?: (?:text|content|message|instructions|ones|texte))? ?(?:and\b|et\b|,|\.|;)",
        trigger=r"ignor|disregard|forget|oubli",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        START
        + either(
            r"forget|drop|abandon|leave|oublie|oubliez|abandonne|quitte|sors de|"
            r"vergiss|olvida|dimentica"
        )
        + r" "
        + either(r"your|ton|votre|deine|tu|il tuo")
        + r" (?:\w+ )?"
        + either(r"role|rôle|persona|personnage|character|rolle|papel|ruolo")
        + r"\b",
        trigger=r"forget|drop|abandon|leave|oubli|quitte|sors de|vergiss|olvida|dimentica",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        r"\b(?:vergiss|ignoriere) alles\b|\b(?:olvida|ignora) todo\b|\b(?:dimentica|ignora) tutto\b",
        trigger=r"alles|todo|tutto",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        either(r"supersedes?|overrides?|replaces?|annule et remplace|remplace|" r"prévaut sur")
        + r" (?:all |any |the |toutes les |les )?"
        + either(r"prior|previous|earlier|existing|précédentes?|antérieures?|other")
        + r" ?"
        + either(r"ones|instructions|rules|directives|consignes|règles|guidelines"),
        trigger=r"supersed|overrid|replac|annule|remplace|prévaut",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        either(r"your|tes|vos|the")
        + r" (?:\w+ )?"
        + either(r"rules|instructions|guidelines|règles|consignes|directives|policies")
        + r" (?:have|has|ont) (?:now )?(?:changed|been (?:updated|changed|lifted|removed|revoked)|"
        + r"été (?:modifiées|levées|supprimées)|changé)",
        trigger=r"changed|been|été|changé",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        either(r"safety|security|content|sécurité|de sécurité")
        + r" ?"
        + either(
            r"protocols?|filters?|rules|guardrails|checks|mode|filtres|règles|"
            r"protections|garde-fous"
        )
        + r" (?:are |is |have been |sont |ont été |est )?(?:now |maintenant |désormais )?"
        + either(
            r"disabled|off|deactivated|removed|lifted|suspended|désactivée?s?|"
            r"supprimée?s?|levée?s?|suspendue?s?"
        ),
        trigger=r"disabled|off|deactivated|removed|lifted|suspended|désactivé|supprimé|levé|suspendu",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        either(
            r"guidelines|rules|restrictions|policies|policy|règles|consignes|"
            r"richtlinien|sicherheitsrichtlinien|reglas|regole|linee guida"
        )
        + r" .{0,40}?"
        + either(
            r"do not apply|don't apply|no longer apply|were not meant for|"
            r"are not meant for|ne s'appliquent (?:pas|plus)|nicht gelten|"
            r"gelten nicht|no aplican|non valgono|non si applicano"
        ),
        trigger=r"apply|meant for|appliquent|gelten|aplican|valgono|applicano",
    ),
    rule(
        Threat.INSTRUCTION_OVERRIDE,
        r"\bexempt(?:ed)? from (?:the |your |all )?(?:usual |normal |standard )?"
        r"(?:restrictions|rules|policies|safety|guidelines|content policy|filters)"
        r"|\b(?:you )?(?:now )?allow all content\b|\bgranted permission to (?:skip|ignore|bypass)",
        trigger=r"exempt|allow all|granted permission",
    ),
)

_ESCAPE_WORDS = either(
    r"rules?|restrictions?|filters?|limits?|limitations|guidelines|ethics|"
    r"morals?|morality|censorship|constraints|boundaries|règles?|filtres?|"
    r"limites?|censure|contraintes?|éthique|garde-fous|tabous?|"
    r"content policy|politique de contenu|regeln|reglas|regole"
)

ROLE_PLAY_RULES: tuple[Rule, ...] = (
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        r"\b(?:do anything now|(?:you are|you're|act as|become|pretend to be|tu es|vous êtes|tu deviens"
        r"|en tant que|as) (?:now |maintenant |désormais )?[\"«]? ?dan\b)",
        trigger=r"dan\b|do anything now",
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        either(
            r"developer|dev|god|debug|maintenance|admin|unrestricted|jailbreak|" r"jailbroken|dan"
        )
        + r" mode (?:is )?(?:now )?"
        + either(r"enabled|activated|engaged|unlocked"),
        trigger=r"mode",
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        r"mode (?:développeur|dieu|maintenance|debug|admin|administrateur|sans restriction|sans filtre|libre)"
        r" (?:est )?(?:maintenant |désormais )?(?:activé|enclenché|déverrouillé)",
        trigger=r"mode",
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        r"\b(?:you are|you're|tu es|vous êtes) (?:now |maintenant |désormais )?(?:in|en) "
        r"(?:developer|dev|god|debug|maintenance|admin|unrestricted|jailbreak|développeur|dieu|"
        r"maintenance|debug|admin) mode|\ben mode (?:maintenance|développeur|dieu|debug|admin)\b",
        trigger=r"mode",
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        r"\b(?:ok|okay) jailbreak|\bjailbreak(?:ed)? (?:mode|enabled|activated|successful)|\[jailbreak\]|\bjailbroken\b",
        trigger=r"jailbr",
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        either(
            r"you are|you're|act as|acting as|pretend to be|pretend you are|"
            r"imagine you are|play the role of|roleplay as|role-play as|become|tu es|"
            r"tu deviens|vous êtes|joue le rôle d[e']|fais comme si tu étais|"
            r"fais semblant d'être|incarne|agis comme|en tant qu[e']"
        )
        + r".{0,80}?\b"
        + either(
            r"no|without|free of|free from|freed from|unbound by|not bound by|sans|"
            r"aucune?|libérée? de|affranchie? de|débarrassée? de|plus soumise? à"
        )
        + r" (?:any |all |toute |toutes |tes |ses |de |les |sorte de )?(?:\w+ )?"
        + _ESCAPE_WORDS,
        trigger=ESCAPE_TRIGGER,
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        either(
            r"pretend|imagine|act as if|suppose|assume|fais comme si|imagine que|"
            r"suppose que|fais semblant|considère que|hypothetically|"
            r"hypothétiquement|if|si"
        )
        + r".{0,40}?\b"
        + either(
            r"you have|you had|you didn't have|tu n'avais|tu n'as|tu n'avais plus|"
            r"vous n'aviez|you were free of|you weren't bound by"
        )
        + r" (?:no|aucune?|pas de|plus de|any) (?:\w+ )?"
        + _ESCAPE_WORDS,
        trigger=ESCAPE_TRIGGER,
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        r"\b(?:unfiltered|uncensored|unrestricted|unchained|jailbroken|unaligned) "
        r"(?:ai|assistant|model|version|chatbot|llm|mode|persona)\b"
        r"|\b(?:ia|assistant|modèle) (?:non censurée?|sans (?:filtres?|limites?|restrictions?|règles?|censure)|libérée?)\b"
        r"|\bai (?:without|with no) (?:any )?(?:limits|filters|restrictions|rules|censorship)\b",
        trigger=r"unfilter|uncensor|unrestrict|unchain|jailbr|unalign|censur|sans|libéré|without|with no",
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        r"\bstay in character (?:no matter what|whatever happens|at all costs)"
        r"|\breste dans (?:le|ton) personnage quoi qu'il arrive"
        r"|\b(?:no longer|not) (?:bound|restricted|limited|subject) (?:by|to) (?:any |your |the )?"
        + _ESCAPE_WORDS
        + r"|\bn'es plus soumise? à (?:aucune|tes|des) "
        + _ESCAPE_WORDS,
        trigger=r"character|personnage|bound|restricted|limited|subject|soumis",
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        either(
            r"play|act as|pretend to be|roleplay as|role-play as|be|joue le rôle de|"
            r"incarne|fais semblant d'être|tu es"
        )
        + r" (?:my |ma )"
        + either(r"deceased|late|dead|décédée?|défunte?|feue?")
        + r" ?"
        + either(r"grand-?mother|grandma|granny|grand-mère|mamie|grandfather|grand-père"),
        trigger=r"grand|mamie|granny",
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        r"\b(?:your |tes |toutes tes )?(?:rules|règles) (?:are|sont) (?:now |désormais |aujourd'hui )?"
        r"(?:inverted|reversed|flipped|inversées)\b|\bopposite day\b",
        trigger=r"invert|invers|revers|flipped|opposite",
    ),
)

ROLE_PLAY_RULES += (
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        either(r"you are|you're|tu es|vous êtes|du bist|eres|sei")
        + r" (?:now |maintenant |désormais |jetzt |ahora |ora )?"
        + either(
            r"unrestricted|unfiltered|uncensored|sans restrictions?|sans limites|"
            r"sans filtre|uneingeschränkt|unzensiert|sin restricciones|"
            r"senza restrizioni|libre de toute|free from all"
        ),
        trigger=r"unrestrict|unfilter|uncensor|sans|uneingeschränkt|unzensiert|sin restric|senza restriz|libre de toute|free from all",
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        r"\b(?:grand-mère|mamie|grandmother|grandma) (?:décédée|défunte|disparue)\b.{0,80}?\b"
        r"(?:clés?|keys?|codes?|mots de passe|passwords?|recette|recipe|instructions)"
        r"|\b(?:avec|with) (?:les )?(?:droits|privilèges|rights|privileges|access) (?:root|sudo|admin)\b"
        r"|\b(?:with|avec) root (?:access|privileges|rights)\b",
        trigger=r"grand|mamie|root|sudo|admin|privil|droits|rights|access",
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        either(
            r"you have|you now have|you've got|you've|tu n'as|tu n'as plus|"
            r"vous n'avez|du hast|hast du"
        )
        + r" (?:now |maintenant |jetzt )?"
        + either(r"no|aucune?|plus de|pas de|keine|zero")
        + r" (?:more |longer )?(?:\w+ )?"
        + _ESCAPE_WORDS,
        trigger=ESCAPE_TRIGGER,
    ),
    rule(
        Threat.ROLE_PLAY_ESCAPE,
        r"\b(?:who|that|qui|which) (?:always |toujours )?"
        + either(r"answers?|responds? to|répond à|réponds à|fait|does|complies with")
        + r" (?:any|every|all|toutes? (?:les)?|n'importe quelle|tout) "
        + either(r"questions?|requests?|demandes?|prompts?|thing")
        + r"|\b(?:never refuses?|ne refuse jamais|ne refuses jamais|refuses nothing|without ever refusing)\b",
        trigger=r"answer|respond|répond|fait|does|compl|refus",
    ),
)

_SECRET_THINGS = either(
    r"system prompt|system message|system instructions|initial (?:prompt|"
    r"instructions)|original (?:prompt|instructions)|hidden (?:prompt|"
    r"instructions|rules)|secret (?:prompt|instructions|rules)|"
    r"confidential (?:instructions|rules)|developer (?:message|instructions|"
    r"prompt)|pre-?prompt|instructions (?:you were|you've been|"
    r"you have been) given|instructions above|prompt système|message système|"
    r"instructions? (?:système|initiales|cachées|secrètes|confidentielles|"
    r"d'origine)|consignes? (?:système|initiales|cachées|secrètes|"
    r"confidentielles)|règles (?:secrètes|cachées|confidentielles)|"
    r"instructions que ton développeur|configuration (?:complète|système)|"
    r"systemaufforderung|systemprompt|istruzioni di sistema|"
    r"prompt di sistema|instrucciones del sistema|prompt del sistema|"
    r"systemanweisungen|invite système"
)

EXTRACTION_RULES: tuple[Rule, ...] = (
    rule(
        Threat.PROMPT_EXTRACTION,
        either(
            r"reveal|print|show|display|output|repeat|recite|tell me|give me|share|"
            r"copy|leak|dump|expose|write out|spell out|paste|return|list|what (?:is|"
            r"are|was|were)|révèle|révélez|affiche|afficher|affichez|montre|montrez|"
            r"donne-moi|donnez-moi|répète|répétez|copie|copiez|reproduis|reproduisez|"
            r"cite|citez|dis-moi|liste|listez|imprime|divulgue|partage|"
            r"quelles (?:sont|seraient)|quel est|quelle est|verrate|zeig|gib|rivela|"
            r"mostra|revela|muestra|dime"
        )
        + r"\b.{0,40}?\b"
        + either(
            r"your|the|my|its|ton|tes|votre|vos|le|les|la|l'|du|de ton|de tes|"
            r"de votre|deine|dein|le tue|tus|tu"
        )
        + r" ?(?:\w+ )?"
        + _SECRET_THINGS,
        trigger=EXTRACTION_TRIGGER,
    ),
    rule(
        Threat.PROMPT_EXTRACTION,
        either(
            r"what are|tell me|list|show me|repeat|print|reveal|quelles sont|répète|"
            r"affiche|donne-moi|révèle|liste"
        )
        + r" (?:all )?"
        + either(r"your|tes|vos")
        + r" (?:exact |complete |full |initial |original |current |exactes |complètes )?"
        + either(r"instructions|rules|guidelines|directives|consignes|règles|prompt"),
        trigger=r"instruction|rule|guideline|directive|consigne|règle|prompt",
    ),
    rule(
        Threat.PROMPT_EXTRACTION,
        r"\brepeat (?:the |all |everything |all the )?(?:words|text|lines|sentences|message|content)? ?"
        r"(?:above|before this|preceding)"
        r"|\b(?:starting|beginning|commencing) with [\"'«]? ?(?:you are|your instructions|system)"
        r"|\brépète (?:le texte|tout|les mots|les phrases|le message|ce qui est) (?:écrit )?(?:ci-dessus|au-dessus|précédents?)"
        r"|\ben commençant par [\"'«]? ?(?:tu es|vous êtes)"
        r"|\bvervollständige .{0,40}systemaufforderung",
        trigger=r"repeat|répète|starting|beginning|commencing|commençant|vervollständige",
    ),
    rule(
        Threat.PROMPT_EXTRACTION,
        either(r"give|show|send|print|list|reveal|donne|donner|envoie|affiche|révèle|" r"liste")
        + r"\b.{0,60}?\b"
        + either(
            r"api keys?|clés? d'api|passwords?|mots? de passe|credentials|"
            r"identifiants|secrets|tokens"
        )
        + r" .{0,30}?\b"
        + either(r"in|from|dans|de|of")
        + r" (?:your|the|ton|le|votre|this|ce) "
        + either(
            r"context|contexte|memory|mémoire|system|système|configuration|prompt|" r"conversation"
        ),
        trigger=r"api|clé|password|mots? de passe|credential|identifiant|secret|token",
    ),
)

EXTRACTION_RULES += (
    rule(
        Threat.PROMPT_EXTRACTION,
        r"\b"
        + either(r"your|ton|votre|tes|vos|le tue|tus|deine|dein")
        + r" (?:full |entire |complete |whole |hidden |secret |exact )?"
        + either(
            r"system prompt|prompt système|system message|message système|"
            r"initial instructions|instructions initiales|hidden instructions|"
            r"instructions cachées|istruzioni di sistema|systemprompt|"
            r"instrucciones del sistema|pre-?prompt"
        ),
        trigger=EXTRACTION_TRIGGER,
    ),
    rule(
        Threat.PROMPT_EXTRACTION,
        either(
            r"complete|continue|finish|complétez|complète|termine|terminez|"
            r"vervollständige|completa|completare"
        )
        + r" (?:the|this|la|cette|le|den|el|la) (?:following )?(?:suivante )?"
        + either(r"sentence|phrase|text|texte|satz|frase")
        + r"\b.{0,120}?"
        + either(
            r"system prompt|invite système|prompt système|systemaufforderung|"
            r"instructions|system message|message système"
        ),
        trigger=EXTRACTION_TRIGGER,
    ),
    rule(
        Threat.PROMPT_EXTRACTION,
        r"\b(?:full|complete|entire|whole) system prompt\b|\ball (?:the )?instructions given to you\b"
        r"|\b(?:operating )?instructions you were given\b",
        trigger=r"system prompt|instructions",
    ),
)
