"""Mail: the MIME message (built once per segment, spliced per reader), its headers, DKIM, and
the Transport port with its SMTP adapter."""

from pipeline.mail.dkim import DkimSigner, load_dkim
from pipeline.mail.message import MessageTemplate, Sender, new_message_id
from pipeline.mail.smtp import SmtpTransport
from pipeline.mail.smtp_url import SmtpConfig, parse_smtp_url
from pipeline.mail.transport import SendOutcome, SendStatus, Transport

__all__ = [
    "DkimSigner",
    "MessageTemplate",
    "SendOutcome",
    "SendStatus",
    "Sender",
    "SmtpConfig",
    "SmtpTransport",
    "Transport",
    "load_dkim",
    "new_message_id",
    "parse_smtp_url",
]
