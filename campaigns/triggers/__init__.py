"""Entry triggers: inbound engagement (comments, DMs, story replies, ad clicks, deep links)
turned into enrolled leads, plus window-relative follow-ups and answers captured in chat."""
