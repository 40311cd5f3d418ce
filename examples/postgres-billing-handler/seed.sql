INSERT INTO public.tenants (id, name) VALUES
  ('northwind', 'Northwind Outfitters'),
  ('initech', 'Initech')
ON CONFLICT (id) DO NOTHING;

INSERT INTO public.customers (id, tenant_id, name) VALUES
  ('cus_nw_1', 'northwind', 'Northwind Outfitters HQ'),
  ('cus_in_1', 'initech', 'Initech Finance')
ON CONFLICT (id) DO NOTHING;

INSERT INTO public.invoices (id, tenant_id, customer_id, status, balance_cents, updated_at) VALUES
  ('INV-1001', 'northwind', 'cus_nw_1', 'open', 48000, '2026-07-01T09:15:00.250Z'),
  ('INV-1002', 'northwind', 'cus_nw_1', 'open', 12000, '2026-07-02T11:00:00Z'),
  ('INV-2001', 'initech', 'cus_in_1', 'open', 99000, '2026-07-01T09:15:00Z')
ON CONFLICT (id) DO NOTHING;
