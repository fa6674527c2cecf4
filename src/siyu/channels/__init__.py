"""Channels: one adapter per provider's documented API (WeCom, Aliyun and Tencent Cloud SMS,
smart SMS / 5G messages, SMTP email, signed webhooks). The journeys engine and the outbox
dispatcher only see :class:`~siyu.channels.base.ChannelAdapter`."""
