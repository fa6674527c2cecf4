"""Analytics over the warehouse: activity, lifecycle, retention, funnels, paths, RFM/CLV, churn,
attribution, channel economics and experiments. Each analysis is a small runner selected by its
``kind`` (see ``base.py``); importing this package registers every built-in runner."""
