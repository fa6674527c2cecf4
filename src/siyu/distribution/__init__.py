"""Distribution (分销): promoters, their binding to the customers they bring, commission rules
of at most two levels, the commission ledger (pending → frozen → settled, reversed on refund)
and payouts, including WeChat Pay profit sharing.

Sits above ``siyu.commerce`` (import-linter): orders drive commissions; nothing below imports
it. Commissions keep their own ledger, never points (CRMEB's double-payment bug)."""
