"""Pathways' Salesforce Marketing Cloud client: transport, auth, SOAP, REST resources and errors.

It imports neither the store nor the sync engine (`sync/`). Start at `sfmc.client.SfmcClient`.
"""
