"""The providers page's field documentation in Chinese. The adapters document their own fields
in English (``CONFIG_FIELDS`` / ``SECRET_FIELDS``, also read by the CLI and docs); this table
words them for a Chinese reader, per provider kind and field. Names the reader types or finds
in the provider's own console as they are (parameter names, values, API actions) are quoted in
backticks and shown as code. tests/console/test_text.py fails when an adapter field has no
entry here, so a new field cannot reach the page in English."""

from __future__ import annotations

#: kind → field → Chinese documentation.
PROVIDER_FIELDS_ZH: dict[str, dict[str, str]] = {
    "wecom": {
        "base_url": "接口根地址（默认 `https://qyapi.weixin.qq.com`）",
        "corp_id": "必填：企业ID（以 `ww` 开头）",
        "agent_id": "可选：有权调用客户联系接口的自建应用 ID",
        "rate_per_s": "本地调用频率上限（默认每秒 100 次；企业微信每个接口每分钟最多 1 万次）",
        "receipt_rate_per_s": "查询发送结果的调用频率，与发送分开计算（默认每秒 50 次）",
        "retries": "遇到 `45009`/`45033` 错误或网络错误时的重试次数（默认 3）",
        "backoff_s": "首次重试前等待的秒数，之后每次加倍（默认 0.5）",
        "rate_retries": "仅针对 `45009`/`45033` 限频错误的重试次数（默认 6，不少于上一项）",
        "max_backoff_s": "两次重试之间最长等待秒数（默认 60）",
        "corp_secret": "必填：客户联系应用的密钥（`Secret`）",
        "callback_token": "可选：接收事件服务器的 `Token`（在企业微信管理后台设置回调时填写，与 `EncodingAESKey` 一起设置）",
        "encoding_aes_key": "可选：接收事件服务器的 `EncodingAESKey`（43 个字符）",
    },
    "aliyun_sms": {
        "base_url": "接口地址（默认 `https://dysmsapi.aliyuncs.com`）",
        "sign_name": "必填：已审核通过的短信签名，内容里另指定签名时以内容为准",
        "region": "每次调用带上的地域（默认 `cn-hangzhou`）",
        "rate_per_s": "本地请求频率上限（默认每秒 50 次；阿里云每个账号每秒最多 5000 次）",
        "access_key_id": "必填：`AccessKey ID`（所属 `RAM` 用户须有 `SendSms`、`SendBatchSms`、`QuerySendDetails` 权限）",
        "access_key_secret": "必填：对应的 `AccessKey Secret`",
    },
    "tencent_sms": {
        "base_url": "接口地址（默认 `https://sms.tencentcloudapi.com`）",
        "sdk_app_id": "必填：短信应用的 `SmsSdkAppId`（如 1400006666）",
        "sign_name": "必填：已审核通过的短信签名，内容里另指定签名时以内容为准",
        "region": "地域（`X-TC-Region`，默认 `ap-guangzhou`）",
        "rate_per_s": "本地请求频率上限（默认每秒 50 次；接口每秒最多 3000 次）",
        "secret_id": "必填：访问密钥的 `SecretId`（须有 `sms:SendSms` 和 `sms:PullSmsSendStatus*` 权限）",
        "secret_key": "必填：对应的 `SecretKey`",
    },
    "smart_sms": {
        "base_url": "必填：平台提供的服务根地址（`serverRoot`：主机、端口和基础路径）",
        "chatbot_id": "必填：5G 消息机器人的地址，如 `sip:106500@botplatform.rcs.chinaunicom.cn`",
        "app_id": "必填：5G 消息机器人的 `appId`",
        "api_version": "地址路径中的接口版本（默认 `v1`）",
        "capability_check": "每次发送卡片前先查询手机是否支持（`contactCapabilities`，默认开启）",
        "status_query": "通过消息状态接口查询发送结果（默认开启）",
        "platform_fallback": "由平台自行回落为普通短信（`smsSupported`，默认关闭）",
        "store_supported": "手机离线时由平台暂存消息（默认开启）",
        "traffic_type": "营销消息的流量类型（`trafficType`，默认 `advertisement`）",
        "url_application": "打开链接按钮的方式：`browser`（浏览器）或 `webview`（内置页面），默认浏览器",
        "retries": "一次调用内遇到网络错误、`429` 或 `5xx` 时的尝试次数（默认 2）",
        "rate_per_s": "本地请求频率上限（默认每秒 50 次）",
        "app_key": "必填：5G 消息机器人的 `appKey`（也可写作 `password`）",
        "notify_token": "平台签名回调通知所用的令牌（用于校验回调）",
    },
    "smtp": {
        "host": "必填：SMTP 服务器地址",
        "port": "SMTP 端口（默认：启用 SSL 时 465，启用 `STARTTLS` 时 587，否则 25）",
        "from_address": "必填：发件地址（其域名也用于邮件编号）",
        "from_name": "发件人显示名称",
        "starttls": "用 `STARTTLS` 升级为加密连接（是/否，默认否）",
        "ssl": "直接以 TLS 加密连接（`SMTPS`，是/否，默认否）",
        "unsubscribe_url": "一键退订链接模板，须包含 `{token}`",
        "unsubscribe_mailto": "接收退订邮件的邮箱地址",
        "timeout_s": "连接超时秒数（默认 30）",
        "username": "SMTP 登录用户名（只填了密码时默认用发件地址）",
        "password": "SMTP 登录密码；填写后才会登录",
        "unsubscribe_secret": "生成退订令牌的 HMAC 密钥（设置了退订链接时必填）",
    },
    "webhook": {
        "url": "必填：接收方地址（内容可用 `path` 替换其路径）",
        "tolerance_s": "接收方接受的签名时效秒数，仅作说明（默认 300）",
        "retries": "一次发送内遇到网络错误、`429` 或 `5xx` 时的尝试次数（默认 2）",
        "timeout_s": "请求超时秒数（默认 10）",
        "rate_per_s": "本地请求频率上限（默认每秒 50 次）",
        "concurrency": "同时进行的请求数（默认 1，最多 256）；程序中断时最多可能重复发送这么多条",
        "secret": "必填：双方共享的 `HMAC-SHA256` 签名密钥",
    },
}
