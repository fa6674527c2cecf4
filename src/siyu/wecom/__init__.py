"""WeCom inflow: the callback receiver, customer events, staff (导购), corp tags and the sync of
existing customers. Entry codes that are WeCom contact ways live in ``siyu.sources``."""
