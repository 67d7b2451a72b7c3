"""The default classifier: header rules, then multilingual keyword rules on the new text only.

Quoted history and signatures are cut first (intent/replytext.py, the parser the mail
parser uses too): a quoted "are you interested?" or a signature's
"Sent from my iPhone" must not decide. Rules run in a fixed order because a reply can match
several ("not interested right now, maybe in Q3" is "not now", "not interested, remove me"
is "unsubscribe"). English and German are covered fully, French and Spanish for the common
phrases. The vocabularies are phrasing families (ways to hand off, to put off, to decline),
not sentences: tests/fixtures/replies/README.md says which labelled set they may be written
from and which one only measures them.
"""

import re
from datetime import date

from intent.base import Classifier, IncomingReply, Intent
from intent.dates import latest_date
from intent.replytext import reply_text

F = re.I | re.M

BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|mail delivery (failed|subsystem)|"
    r"returned mail|failure notice|unzustellbar|nicht zugestellt|non remis|no se puede entregar",
    re.I,
)
BOUNCE_BODY = re.compile(
    r"address (couldn't|could not) be found|user unknown|mailbox (unavailable|not found|full)|"
    r"recipient address rejected|550[ -]5\.1\.1|does not exist|delivery has failed|"
    r"konnte nicht zugestellt|empfänger(adresse)? (unbekannt|wurde nicht gefunden)|"
    r"no longer (active|monitored)|account (has been )?(disabled|deactivated)|"
    r"adresse n'existe pas|no existe|"
    # MTA wording (Postfix, Exim, qmail, Exchange) and closed mailboxes.
    r"could(n't| not) be delivered|permanent error|no such (user|mailbox|recipient)|"
    r"no mailbox here|mailbox (has been |was |is )?(closed|deleted|deactivated|disabled)|"
    r"zustellung an .{0,60}fehlgeschlagen|(adresse|postfach) .{0,30}(nicht gefunden|existiert "
    r"nicht)|existiert nicht mehr|postfach (wurde )?(gelöscht|geschlossen|deaktiviert)",
    re.I,
)
OOO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto[- ]?reply|autoreply|abwesen|"
    r"automatische antwort|absence|réponse automatique|fuera de la oficina|respuesta automática|"
    r"vacation|urlaub",
    re.I,
)

WHOLE_REFUSAL = re.compile(r"^\s*(no|nope|nah|nein|non|no gracias|no thanks)\s*[.!]*\s*$", re.I)


def _any(*parts: str) -> re.Pattern[str]:
    """One case-insensitive pattern from alternatives grouped by language or phrasing family."""
    return re.compile("|".join(f"(?:{part})" for part in parts), re.I | re.M)


UNSUBSCRIBE = _any(
    r"^\s*stop\s*([.!,]+|$)",  # "STOP", "Stop. Third mail this week." (not "Stop by our booth")
    r"\b(unsubscribe|opt me out|opt[- ]out|remove me|take me off|delete my (data|details|contact))",
    r"\b(remove|delete|erase|take) (my|all my) (e-?mail|address|name|data|details|contact)",
    r"\b(take|get|keep) (me|my name|my e-?mail|my address) off\b|\bget off (this|your) list",
    r"\berase (it|them|my)\b",
    r"\bstop (messaging|emailing|contacting|writing|sending)|don'?t (contact|message|email|"
    r"write to) me|do not (contact|message|email) me|never (contact|email|message|write to) me",
    r"\b(don'?t|do not) want to (receive|get|hear)|no more (e-?mails|messages)|gdpr",
    # German: Verteiler / Liste, Werbung, Widerspruch (Art. 21 DSGVO).
    r"dsgvo|austragen|tragen sie mich aus|abmelden|abbestellen|"
    r"(aus|von) (ihrem|eurem|dem|der|ihrer|eurer|dieser|diesem) (verteiler|liste|mailingliste)",
    r"(entfernen|streichen|nehmen) sie mich|löschen sie (bitte )?(meine|mich)",
    r"keine (weiteren )?(e-?mails|mails|nachrichten|werbung|newsletter)",
    r"nicht mehr (kontaktieren|anschreiben|schreiben|anrufen|mailen|zu ?mailen)|"
    r"kontaktieren sie mich nicht|schreiben sie mir nicht|hören sie auf|widersprech|widerspruch",
    # French, Spanish.
    r"désabonn|désinscri|ne plus me contacter|retir\w* de (votre|vos|la|cette) liste|"
    r"ne (veux|souhaite) plus recevoir",
    r"darme de baja|dar(me|nos)? de baja|no me contacten|no me escriban|"
    r"elim[ií]n\w* de (su|la|vuestra|tu) lista|no (quiero|deseo) recibir",
    # Requests to stop or withdraw consent, in the forms a letter or a form reply uses.
    r"unterlassen sie|weitere kontaktaufnahme|widerruf|löschung (meiner|der|aller) .{0,20}daten",
    r"(arrêtez|cessez) de m|ne m'(envoyez|écrivez) plus|(deje|dejen|deja) de (escribir|"
    r"contactar|enviar)|no me (escriba|contacte|envíe)",
)

ABSENT = _any(
    r"out of (the )?office|on (annual |parental |paternity |maternity |sick )?leave|"
    r"on (vacation|holiday|sabbatical)|(out|off) sick|sick leave",
    r"away (from (the|my) (office|desk)|until|till)|limited access to (e-?mail|my)|"
    r"currently (away|travell?ing|out)|travell?ing (until|till|through)",
    r"i am back on|i'?ll be back|i will be back|back in the office|returning on",
    # German: Büro / Haus, Urlaub, Dienstreise, krank.
    r"abwesen|nicht im (büro|haus)|außer haus|im urlaub|urlaubsbedingt|in elternzeit|"
    r"dienstreise|krank|bin ab .{1,20} wieder|wieder (im büro|im haus|erreichbar|da)|"
    r"keinen zugriff auf (meine )?e-?mails",
    r"absent|en congés|de retour le|en déplacement|en vacances",
    r"fuera de la oficina|de vacaciones|estaré de vuelta|regreso el|de baja hasta",
    r"(i'?m|i am|we'?re|we are) (off|out|away) (until|till|through|from)|auto-?reply:",
)

WRONG_PERSON = _any(
    r"wrong (person|guy|contact|number|department|team|address)|^\s*wrong\b|"
    r"not the (right|correct|best) (person|contact)|not the one who",
    r"no longer (work|with|at)|(left|leaving) the company|don'?t work (at|for|there)|"
    r"i (have |'ve )?retired|successor|(moved|switched) to (a )?(different|another|new) "
    r"(role|team|company|job)|joined (a )?(different|another) company",
    r"not responsible for|(isn'?t|not) my (area|department|responsibility|call|decision)",
    r"you (should|want to|need to|'ll want to|will want to) (talk|speak|reach out|contact|write)",
    r"please (contact|reach out to|write to|ask) (my colleague|our|the)|the right person "
    r"(is|would be)|(try|try reaching|try contacting) \w+ \w+ instead",
    r"forward(ed|ing)? (this|your|it)|pass(ing|ed)? (this|it|your \w+) (on|along)",
    r"\blooping in\b|\bcc'?(ing|'?d)\b|copying in",
    r"handles (this|that|purchasing)|(something|one|a question) for (our|my) [\w-]+( team)?,? "
    r"not me|^\s*not me\b|go(es)? through (our|my)",
    # German.
    r"falsche\w* (ansprechpartner|person|adresse)|nicht (der|die) richtige|nicht zuständig|"
    r"nicht mehr (bei|im unternehmen|für|in der firma)|nicht mehr .{0,25}(beschäftigt|tätig)",
    r"zuständig (ist|wäre)|wenden sie sich (bitte )?an|kontaktieren sie (bitte )?(herrn|frau|"
    r"meine|unser)|(versuchen|probieren) sie es (bei|mit)",
    r"habe (ihre|die) (nachricht|mail) (an|weitergeleitet)|weiter(geleitet|leiten)|"
    r"leite\w* .{0,40}weiter|kollegin|kollegen",
    r"nicht (in )?meine\w* (bereich|zuständigkeit|abteilung)|ansprechpartner(in)? (wäre|ist)|"
    r"nicht ich\b|entscheide\w* .{0,30}nicht ich|müssten sie mit .{0,40}besprechen",
    # French, Spanish.
    r"pas la bonne personne|ne travaille plus|ne suis plus (dans|chez|à)|collègue|"
    r"ce n'est pas moi qui|ne m'occupe pas",
    r"persona (equivocada|adecuada|indicada|correcta)|ya no (trabajo|estoy) en|"
    r"compañer[oa]|contacte con",
    # Someone else decides or took over; the contact left.
    r"\b(not|no longer|don'?t|do not)\b[^.!?\n]{0,20}\b(in charge|responsible|handle|deal with|"
    r"decide|manage)|decision[- ]maker|took over|taken over|successor|nachfolger|"
    r"remplaçant|sucesor|left (us|the (firm|team|business))|\bnot us\b",
    r"should (go|be sent|be addressed) to|(better|best) (sent|addressed|asked) (to|at)|"
    r"\b(adding|added) \w+ (from|in|who)|i'?ve (added|copied)",
    r"(müssen|sollten|können) sie (sich )?(mit|an) .{0,40}(sprechen|reden|besprechen|wenden)|"
    r"(firma|unternehmen|team|haus) .{0,25}verlassen|übernommen|in rente|ruhestand",
    r"quitté|ne fais plus partie|personne à contacter|pas la personne|retraite|"
    r"(ya )?no formo parte|dejé la empresa|no me encargo|no soy (yo )?quien|jubilad|"
    r"escrib[ae] al? |hable con|diríjase",
)

# A time that is not now, and a word that puts the conversation off until then; both together
# mean "not now" ("try me again in the spring", "bitte im Januar melden").
LATER_TIME = _any(
    r"\b(in|after|around|from|until|till|before|by|for) (the )?(january|february|march|april|"
    r"may|june|july|august|september|october|november|december|spring|summer|fall|autumn|"
    r"winter|new year|holidays)\b",
    r"\b(in|for) 20[2-9]\d\b|\bin (\w+ ){0,2}(weeks|months)\b|\blater\b",
    r"\b(im|ab|bis|nach|zum) (januar|februar|märz|april|mai|juni|juli|august|september|"
    r"oktober|november|dezember|frühjahr|frühling|sommer|herbst|winter|neuen jahr)\b",
    r"\b(erst|ab|bis) 20[2-9]\d\b|nach (dem|den|der) (sommer\w*|ferien|urlaub\w*|messe|"
    r"feiertagen|jahreswechsel|umzug|launch|projekt\w*)|in (\w+ ){0,2}(wochen|monaten)|später",
    r"\ben (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|"
    r"décembre)\b|dans (\w+ ){0,2}(semaines|mois)|plus tard",
    r"\ben (enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|"
    r"diciembre)\b|año que viene|próximo año|más adelante",
    r"\bnext (summer|spring|fall|autumn|winter)\b|end of the year|year[- ]end|down the road|"
    r"jahresende|fin d'année|fin de año|en (\w+ ){0,2}(semanas|meses)",
)
PUT_OFF = _any(
    r"\bagain\b|\bback\b|revisit|reconnect|follow[- ]?up|reach out|check in|touch base|ping|"
    r"\bthen\b|after that|maybe|perhaps|radar",
    r"wieder|noch ?(ein)?mal|melden|zurück|auf mich zu|dann|danach|vielleicht|erst|steht .{0,20}an",
    r"revenez|recontact|rappel|peut-être",
    r"escríbe|vuelve|de nuevo|quizás|tal vez|no hasta",
    r"hit me up|contact me|get in touch|closer to|renewal|vertragsende",
)

NOT_NOW = _any(
    r"not (right )?now|not at the moment|not at this time|maybe later|perhaps later",
    r"(later|next|early|end of (the )?) ?(this )?(year|quarter|month)|next (month|quarter|year)|"
    r"in (a few|two|three|\d+|a couple of) (weeks|months)|\bq[1-4]\b",
    r"after (the )?(summer|holidays|new year|christmas|our)|circle back|check back|"
    r"reach out (again )?(in|after|next)|follow up (in|after|next)|ping me (in|after|again)|"
    r"get back to (me|you) (in|after)",
    r"timing('s| is)? (is |isn'?t )?(off|bad|not|great)|timing isn'?t|bad time|too busy|swamped|"
    r"slammed|(too|zu|trop|demasiado) (early|früh|tôt|pronto)|not a priority|"
    r"keep me (on your radar|in mind|posted)|not (this|until|before) (year|quarter|month|next)",
    r"no budget|budget (is )?(frozen|freeze)|kein budget|revisit",
    # A refusal tied to the present: "not interested right now", "im Moment kein Interesse".
    r"\b(not|nicht|kein\w*|pas)\b[^.!?\n]{0,30}\b(right now|at the moment|currently|for now|"
    r"im moment|momentan|derzeit|aktuell|zurzeit|pour le moment|pour l'instant)\b",
    r"\b(right now|at the moment|im moment|momentan|derzeit|aktuell|zurzeit|gerade)\b"
    r"[^.!?\n]{0,25}\b(not|nicht|kein\w*|ungünstig|schlecht|schwierig)\b",
    r"(im )?nächsten (jahr|quartal|monat)|nächstes (jahr|quartal)|später (noch ?mal|"
    r"wieder|melden|gerne)|(vielleicht|eventuell) später|melden sie sich (gerne )?(in|nach|im|"
    r"ab|später)|ausgelastet",
    r"nach (dem sommer|den ferien|der messe|ostern|weihnachten)|in (ein paar|einigen|"
    r"zwei|drei) (wochen|monaten)|keine zeit|ende des jahres",
    r"pas (maintenant|pour le moment|pour l'instant|en ce moment)|plus tard|l'année prochaine|"
    r"timing n'est pas",
    r"más adelante|ahora (mismo )?no|el próximo (año|trimestre|mes)|no hasta",
    r"pas tout de suite|pas encore|de momento no|por ahora no|todavía no|not just yet|noch nicht|"
    r"good idea,? bad timing|bad timing|andere prioritäten|other priorities",
)

# "I wouldn't say no", "nicht uninteressant": a negated refusal is interest, and must be
# read before the refusal words it contains.
DOUBLE_NEGATIVE = _any(
    r"(wouldn'?t|would not|won'?t|can'?t) say no|not a bad idea|no objection",
    r"nicht uninteressant|nicht unspannend|nichts (da)?gegen|pas inintéressant|pas contre",
)

NOT_INTERESTED = _any(
    r"not interested|no interest|no thanks|no,? thank you|no need|no point|not a fit|"
    r"not (a )?(good )?fit|don'?t need|do not need|we'?re (all )?(set|good|covered)",
    r"already (have|use|work with|using)|not for (us|me)|pass on this|we'?ll pass|i'?ll pass|"
    r"going to pass|not looking|isn'?t relevant|not something (we|i)|(we|i) don'?t do|"
    r"not relevant|decline",
    r"isn'?t something (we|i)|happy with (our|what|the)|stick with|not in the market|"
    r"don'?t (think|see) (this|it|that|a|any|the)\b[^.!?\n]{0,30}\b(fit|use|need|value|"
    r"relevant|for us)|(doesn'?t|does not|wouldn'?t) make sense|makes no sense|"
    r"(didn'?t|did not) work (out )?for us|\bbut no\b|it'?s a no|^\s*(no|nope|nein|non)\s*[.!]",
    # German.
    r"kein\w* (interesse|bedarf|verwendung)|nicht interessiert|nicht relevant|"
    r"brauchen (wir )?(das )?nicht|haben (wir )?(bereits|schon)|danke,? nein|nein,? danke|"
    r"passt nicht|leider nein|nein,? leider",
    r"nichts für (uns|mich)|nicht in frage|verzichten|versorgt|zufrieden|"
    r"lohnt sich (für uns )?nicht|(sehe|sehen) (ich|wir) (bei uns )?nicht|erledigt|"
    r"(glaube|denke) nicht,? dass|intern (gelöst|abgedeckt)",
    # French, Spanish.
    r"pas intéressée?s?|ne (nous |m')intéresse (pas|plus)|non merci|pas pour nous|"
    r"déjà (une|un|des) (solution|prestataire|outil|fournisseur)|pas besoin",
    r"no (me|nos) interesa|no estamos interesados|no,? gracias|ya tenemos|"
    r"no es para (nosotros|mí)|no necesitamos",
    # A negated need or go-ahead, a decision for someone else, contentment with what they have.
    r"\b(don'?t|do not|doesn'?t|won'?t|will not|not)\b[^.!?\n]{0,25}\b(need|want|require|work for "
    r"us|apply|buy|buying|moving forward|move forward|proceed|go ahead)",
    r"decided (against|not to)|different direction|went with|chose (another|a different)|"
    r"(satisfied|happy) with|stay with|say no|hard pass|no thanks|not (really )?our (thing|focus)",
    r"entschieden (für|gegen)|anderen anbieter|kein thema|nicht unser|benötigen .{0,20}nicht|"
    r"nicht (weiter)?verfolgen|gut aufgestellt|abgedeckt|uninteressant|bleiben bei",
    r"ne donnerons pas suite|pas de suite|autre (prestataire|solution)|pas notre|satisfaits?|"
    r"no lo necesit|no necesit|otro proveedor|preferimos seguir|seguir con|no es lo nuestro",
    r"very satisfied|sehr zufrieden|nicht in ?frage",
)

INTERESTED = _any(
    r"interested|sounds (good|great|interesting)|tell me more|"
    r"\bsend (me |us )?(more|over|some|a)\b|\bsend (me|us) the|one-pager|"
    r"looking for something like|learn more|hear more|more (info|information|details)",
    r"let'?s (talk|chat|meet|do it|schedule|set|find)|find a (time|slot)|happy to (chat|talk|"
    r"connect|hop|take a look|look)|(book|schedule|set up|arrange) a (call|meeting|demo|time)",
    r"free (on|next|this)|are you (free|available|around)|works for me|calendar|calendly|"
    r"can we (chat|talk|meet|speak|hop on|set up)",
    r"what (are|is) (the|your) (price|pricing|cost|rates)|how much|pricing|price|cost\b|"
    r"demo|trial|pilot|case stud",
    r"call me|give me a call|love to|would like to|keen|count me in|i'?m in\b|yes please|sure[,!.]",
    r"open to|take a look|curious|(you'?ve got|you have|caught) my (attention|eye)|"
    r"looks (relevant|interesting|good|great|promising)|exactly what|no objection|why not|"
    r"\bdown (to|for)\b|integrat|how does .{0,30}work|we'?re (evaluating|looking)|struggling with",
    r"^\s*(yes|yeah|yep|ja|oui|sí|claro)\b",
    # German.
    r"klingt (gut|spannend|interessant|nach)|interessant|interessiert|gerne|gern\b|"
    r"mehr (infos|informationen|details)|schicken sie|senden sie|zukommen lassen|unterlagen|"
    r"präsentation|termin|telefonat|anrufen|ruf\w* .{0,30}\ban\b",
    r"was (kostet|würde|wären|kosten)|kosten\b|preis|konditionen|angebot|passt (mir|uns)|"
    r"lassen sie uns|grundsätzlich ja|nichts gegen|testzugang|(können|könnten) wir .{0,40}"
    r"(sprechen|telefonieren|reden|treffen)|gespräch|evaluieren|suchen|wie läuft|"
    r"(gerade|sehr) aktuell|bock|lust auf|schaue? .{0,20}an\b",
    # French, Spanish.
    r"intéress|volontiers|en savoir plus|disponible|tarifs|documentation|pourquoi pas|"
    r"ça m'intéresse",
    r"me interesa|nos interesa|interesante|suena bien|con gusto|cuánto cuesta|saber más|"
    r"más información|hablemos|te va bien|me gustaría",
    # Asking for the next step, a time, a proposal; plain enthusiasm.
    r"next steps?|nächste[nr]? schritt|prochaine étape|siguiente paso|proposal|quote\b|"
    r"proposition|propuesta|devis|presupuesto|discount|rabatt",
    r"(when|what time)('?s| are| is| can| would)? (you|your|we)\b|availability|disponibilit|"
    r"verfügbar|zeit für|tienes tiempo|walk me through|show me|see it in action|"
    r"zeigen sie|vorstellung|montrez|muéstrame|enséñame|demostración",
    r"absolutely|definitely|awesome|perfect\b|gladly|i'?m up for|up for a|avec plaisir|"
    r"d'accord|\bvale\b|me encantaría|vielversprechend|promising|hört sich .{0,15}an|super\b|"
    r"interesse|telefonisch|appelez|llám|cuéntame|dites-m'en",
    r"(book|schedule|block) (\d+|a|some) (minutes|min|slot|time)|good fit|great fit",
)

RULES: list[tuple[str, str, re.Pattern[str]]] = [
    ("unsubscribe", "unsubscribe words", UNSUBSCRIBE),
    ("out_of_office", "absence words", ABSENT),
    ("wrong_person", "wrong person words", WRONG_PERSON),
    ("not_now", "timing words", NOT_NOW),
    ("interested", "double negative", DOUBLE_NEGATIVE),
    ("not_interested", "refusal words", NOT_INTERESTED),
    ("interested", "interest words", INTERESTED),
]


class RuleClassifier(Classifier):
    def classify(self, reply: IncomingReply) -> Intent:
        text = reply_text(reply.body) or reply.body
        subject = reply.subject or ""
        if reply.kind == "bounce" or BOUNCE_SUBJECT.search(subject) or BOUNCE_BODY.search(text):
            return Intent("bounce", rule="bounce header or delivery failure text")
        if reply.kind == "opt_out":
            return Intent("unsubscribe", rule="opt-out keyword")
        if reply.kind == "auto_reply" or OOO_SUBJECT.search(subject):
            # An auto-reply names a colleague to write to; that is not a "wrong person".
            # One that says nothing of an absence ("we answer within 24 h") pauses nothing.
            # Read the new text only: a date or "vacation" in our quoted mail is not theirs.
            absent = ABSENT.search(text) or latest_date(text, reply.received_on or date.today())
            if absent:
                return self._absent(reply, text, "auto-reply header or subject")
            return Intent("other", rule="auto-reply without an absence")
        if WHOLE_REFUSAL.match(text):
            return Intent("not_interested", rule="one-word refusal")
        for label, name, pattern in RULES:
            if pattern.search(text) or (label == "not_now" and self._put_off(text)):
                if label == "out_of_office":
                    return self._absent(reply, text, name)
                return Intent(label, rule=name)
        return Intent("other", rule="no rule matched")

    @staticmethod
    def _put_off(text: str) -> bool:
        return bool(LATER_TIME.search(text) and PUT_OFF.search(text))

    def _absent(self, reply: IncomingReply, text: str, rule: str) -> Intent:
        back = latest_date(text, reply.received_on or date.today())
        return Intent("out_of_office", return_date=back, rule=rule)
