"""Devices and what they consent to: purposes, the notice and its versions, the site, the banner,
statistics."""
