"""People (e-mail subjects): addresses, sign-ups, signed links, mail, rights, marketing checks."""
