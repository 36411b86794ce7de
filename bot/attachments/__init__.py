"""Attachments: what people attach to a question, turned into what the model and Greenflash get.

One package with one job per module, so the rules that keep the bot safe live in one place:

* :mod:`bot.attachments.kinds`: the plain values that leave this package (no Discord types).
* :mod:`bot.attachments.sniffing`: deciding what a file is from its bytes, decoding text.
* :mod:`bot.attachments.gif`: the first frame of an animated GIF.
* :mod:`bot.attachments.download`: the only code that fetches attachment bytes: Discord's
  CDN hosts only, a byte cap, a time limit.
* :mod:`bot.attachments.model_content`: the OpenAI user-message content parts.
* :mod:`bot.attachments.analytics_fields`: the Greenflash ``content`` notes, ``context`` and
  properties, and the placeholders earlier attachments leave in the context.
* :mod:`bot.attachments.config`: the settings.
"""
