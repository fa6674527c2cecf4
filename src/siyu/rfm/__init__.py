"""RFM scores: recency, frequency and monetary quintiles per customer and named segments."""
