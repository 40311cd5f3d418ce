-- The billing app's own tables. Sluicegate reads `invoices` (read-only role) and records
-- proposals in its ledger; only the app's handler writes here, after a human approved.
CREATE TABLE IF NOT EXISTS public.tenants (
  id text PRIMARY KEY,
  name text NOT NULL
);

CREATE TABLE IF NOT EXISTS public.customers (
  id text PRIMARY KEY,
  tenant_id text NOT NULL REFERENCES public.tenants(id),
  name text NOT NULL
);

CREATE TABLE IF NOT EXISTS public.invoices (
  id text PRIMARY KEY,
  tenant_id text NOT NULL REFERENCES public.tenants(id),
  customer_id text NOT NULL REFERENCES public.customers(id),
  status text NOT NULL,
  balance_cents integer NOT NULL,
  credit_requested_cents integer NOT NULL DEFAULT 0,
  credit_reason text,
  credited_cents integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per approved credit. The idempotency key is unique, so even a handler bug cannot
-- book the same approved credit twice.
CREATE TABLE IF NOT EXISTS public.account_credits (
  id text PRIMARY KEY,
  tenant_id text NOT NULL REFERENCES public.tenants(id),
  invoice_id text NOT NULL REFERENCES public.invoices(id),
  customer_id text NOT NULL REFERENCES public.customers(id),
  amount_cents integer NOT NULL CHECK (amount_cents > 0),
  reason text NOT NULL,
  idempotency_key text NOT NULL UNIQUE,
  approved_proposal_id text NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
