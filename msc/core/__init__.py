"""What every feature uses: database, access, audit, i18n, errors, security."""
