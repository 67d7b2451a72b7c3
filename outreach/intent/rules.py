"""The default classifier: header rules, then multilingual keyword rules on the new text only.

Quoted history and signatures are cut first (outreach/replytext.py, the parser the mail
parser uses too): a quoted "are you interested?" or a signature's
"Sent from my iPhone" must not decide. Rules run in a fixed order because a reply can match
several ("not interested right now, maybe in Q3" is "not now", "not interested, remove me"
is "unsubscribe"). English and German are covered fully, French and Spanish for the common
phrases.
"""

import re
from datetime import date

from outreach.intent.base import Classifier, IncomingReply, Intent
from outreach.intent.dates import latest_date
from outreach.replytext import reply_text

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
    r"adresse n'existe pas|no existe",
    re.I,
)
OOO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto[- ]?reply|autoreply|abwesen|"
    r"automatische antwort|absence|réponse automatique|fuera de la oficina|respuesta automática|"
    r"vacation|urlaub",
    re.I,
)

WHOLE_REFUSAL = re.compile(r"^\s*(no|nope|nah|nein|non|no gracias|no thanks)\s*[.!]*\s*$", re.I)

RULES: list[tuple[str, str, re.Pattern[str]]] = [
    (
        "unsubscribe",
        "unsubscribe words",
        re.compile(
            r"(^\s*stop\s*[.!]*\s*$|\b(unsubscribe|opt me out|opt[- ]out|remove me|"
            r"take me off|delete my (data|details|"
            r"contact)|stop (messaging|emailing|contacting|writing|sending)|don'?t (contact|"
            r"message|email|write to) me|do not (contact|message|email) me|no more (emails|"
            r"messages)|gdpr|dsgvo|austragen|abmelden|abbestellen|aus (ihrem|eurem|dem) verteiler|"
            r"entfernen sie mich|löschen sie (meine|mich)|keine (weiteren )?(e-?mails|nachrichten)|"
            r"nicht mehr (kontaktieren|anschreiben|schreiben)|kontaktieren sie mich nicht|"
            r"schreiben sie mir nicht|désabonner|désinscri|ne plus me contacter|"
            r"darme de baja|no me contacten|no me escriban))",
            re.I,
        ),
    ),
    (
        "out_of_office",
        "absence words",
        re.compile(
            r"(out of (the )?office|on (annual |parental |sick )?leave|on vacation|on holiday|"
            r"away (from (the|my) (office|desk)|until|till)|limited access to (e-?mail|my)|"
            r"currently (away|travell?ing|out)|i am back on|i'?ll be back|i will be back|back in "
            r"the office|returning on|abwesen|nicht im (büro|haus)|im urlaub|urlaubsbedingt|"
            r"in elternzeit|bin ab .{1,20} wieder|wieder (im büro|erreichbar|da)|"
            r"keinen zugriff auf (meine )?e-?mails|absent|en congés|de retour le|"
            r"fuera de la oficina|de vacaciones|estaré de vuelta|regreso el)",
            re.I,
        ),
    ),
    (
        "wrong_person",
        "wrong person words",
        re.compile(
            r"(wrong person|not the (right|correct|best) (person|contact)|no longer (work|with)|"
            r"(left|leaving) the company|don'?t work (at|for|there)|not responsible for|"
            r"(isn'?t|not) my (area|department|responsibility)|you (should|want to|need to) "
            r"(talk|speak|reach out|contact|write)|please (contact|reach out to|write to|ask) "
            r"(my colleague|our|the)|the right person (is|would be)|forwarded (this|your)|"
            r"handles (this|that|purchasing)|falsche[nr]? (ansprechpartner|person)|"
            r"nicht (der|die) richtige|nicht zuständig|nicht mehr (bei|im unternehmen|für)|"
            r"zuständig (ist|wäre)|wenden sie sich (bitte )?an|habe (ihre|die) (nachricht|mail) "
            r"(an|weitergeleitet)|weitergeleitet|kollegin|kollegen|pas la bonne personne|"
            r"ne travaille plus|persona equivocada|ya no trabajo)",
            re.I,
        ),
    ),
    (
        "not_now",
        "timing words",
        re.compile(
            r"(not (right )?now|not at the moment|not at this time|maybe later|perhaps later|"
            r"(later|next|early|end of (the )?) ?(this )?(year|quarter|month)|in (a few|two|three|"
            r"\d+|a couple of) (weeks|months)|next (week|month|quarter|year)|\bq[1-4]\b|"
            r"after (the )?(summer|holidays|new year|christmas|our)|circle back|check back|"
            r"reach out (again )?(in|after|next)|follow up (in|after|next)|ping me (in|after|"
            r"again)|get back to (me|you) (in|after)|timing (is|isn'?t)|bad time|too busy|"
            r"swamped|no budget (right now|this)|budget (is )?(frozen|freeze)|revisit|"
            r"(derzeit|momentan|aktuell|zurzeit|gerade) (nicht|kein|leider nicht|keine)|"
            r"(im )?nächsten (jahr|quartal|monat)|nächstes (jahr|quartal)|später (noch ?mal|"
            r"wieder|melden|gerne)|melden sie sich (gerne )?(in|nach|im|ab|später)|"
            r"nach (dem sommer|den ferien|der messe|ostern|weihnachten)|in (ein paar|einigen|"
            r"zwei|drei) (wochen|monaten)|keine zeit|ende des jahres|pas maintenant|plus tard|"
            r"l'année prochaine|más adelante|ahora no|el próximo (año|trimestre|mes))",
            re.I,
        ),
    ),
    (
        "not_interested",
        "refusal words",
        re.compile(
            r"(not interested|no interest|no thanks|no,? thank you|no need|not a fit|"
            r"not (a )?(good )?fit|don'?t need|do not need|we'?re (all )?(set|good|covered)|"
            r"already (have|use|work with|using)|not for us|pass on this|we'?ll pass|i'?ll pass|"
            r"not looking|isn'?t relevant|not something (we|i)|(we|i) don'?t do|not relevant|"
            r"decline|kein (interesse|bedarf)|"
            r"nicht interessiert|nicht relevant|brauchen (wir )?(das )?nicht|"
            r"haben (wir )?(bereits|schon)|danke,? nein|nein danke|passt nicht|"
            r"pas intéressé|pas intéressée|non merci|no me interesa|no estamos interesados|"
            r"no,? gracias)",
            re.I,
        ),
    ),
    (
        "interested",
        "interest words",
        re.compile(
            r"(interested|sounds (good|great|interesting)|tell me more|\bsend (me |us )?(more|"
            r"over|some|a)\b|\bsend (me|us) the|one-pager|looking for something like|"
            r"learn more|more (info|information|details)|"
            r"let'?s (talk|chat|meet|do it|schedule|set)|"
            r"happy to (chat|talk|connect|hop)|(book|schedule|set up|arrange) a (call|meeting|"
            r"demo|time)|free (on|next|this)|works for me|calendar|calendly|what (are|is) (the|"
            r"your) (price|pricing|cost|rates)|how much|pricing|demo|call me|give me a call|"
            r"love to|would like to|keen|count me in|i'?m in\b|yes please|sure[,!.]|"
            r"klingt (gut|spannend|interessant)|interessant|gerne|gern\b|mehr (infos|"
            r"informationen|details)|schicken sie|senden sie|termin|telefonat|anrufen|"
            r"was kostet|preis|angebot|passt (mir|uns)|lassen sie uns|intéress|volontiers|"
            r"ça m'intéresse|me interesa|suena bien|con gusto|cuánto cuesta)",
            re.I,
        ),
    ),
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
            absent = RULES[1][2].search(reply.body) or latest_date(
                reply.body, reply.received_on or date.today()
            )
            if absent:
                return self._absent(reply, reply.body, "auto-reply header or subject")
            return Intent("other", rule="auto-reply without an absence")
        if WHOLE_REFUSAL.match(text):
            return Intent("not_interested", rule="one-word refusal")
        for label, name, pattern in RULES:
            if pattern.search(text):
                if label == "out_of_office":
                    return self._absent(reply, text, name)
                return Intent(label, rule=name)
        return Intent("other", rule="no rule matched")

    def _absent(self, reply: IncomingReply, text: str, rule: str) -> Intent:
        back = latest_date(text, reply.received_on or date.today())
        return Intent("out_of_office", return_date=back, rule=rule)
