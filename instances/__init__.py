"""Instances: the farm's sites (django-tenants tenants), their lifecycle, members and tokens."""
