"""Admin: onboarding apps (Cognito app clients), their limits and allowed models, status, secrets, and the audit."""
