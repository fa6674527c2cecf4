"""Communities: customer groups (客户群), their members, group live codes (群活码), group SOP,
group health and the 1% / 9% / 90% pyramid."""
