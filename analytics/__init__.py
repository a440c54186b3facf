"""Analytics: the tenant app; one copy of its tables lives in every site's schema."""
