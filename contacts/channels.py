"""The channels a contact can be reached on.

Kept as a plain list (not a DB enum) so adding a channel needs no schema change.
"""

EMAIL = "email"
PHONE = "phone"
WHATSAPP = "whatsapp"
INSTAGRAM = "instagram"
MESSENGER = "messenger"
X = "x"
TELEGRAM = "telegram"
LINKEDIN = "linkedin"
TIKTOK = "tiktok"
SNAPCHAT = "snapchat"

CHANNEL_CHOICES = [
    (EMAIL, "Email"),
    (PHONE, "Phone"),
    (WHATSAPP, "WhatsApp"),
    (INSTAGRAM, "Instagram"),
    (MESSENGER, "Facebook Messenger"),
    (X, "X"),
    (TELEGRAM, "Telegram"),
    (LINKEDIN, "LinkedIn"),
    (TIKTOK, "TikTok"),
    (SNAPCHAT, "Snapchat"),
]
CHANNELS = [code for code, _ in CHANNEL_CHOICES]
