"""SFMC payloads used by the client unit tests (shapes from reference/sfmc-api.md)."""

SUB = "mcabcdefghijklmnopqrstuvwxy1"
AUTH = f"https://{SUB}.auth.marketingcloudapis.com/"
TOKEN_URL = AUTH + "v2/token"
REST = f"https://{SUB}.rest.marketingcloudapis.com/"
SOAP_URL = f"https://{SUB}.soap.marketingcloudapis.com/Service.asmx"
SECRET = "s3cr3t-value"
ALL_SCOPES = (
    "data_extensions_read data_extensions_write saved_content_read list_and_subscribers_read"
)


def token(access="tok-1", expires_in=1079, scope=ALL_SCOPES):
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
        "rest_instance_url": REST,
        "soap_instance_url": f"https://{SUB}.soap.marketingcloudapis.com/",
    }


INVALID_CLIENT_ID = {
    "error": "invalid_client",
    "error_description": "Invalid client ID. Use the client ID in Marketing Cloud Installed Packages.",
    "error_uri": "https://developer.salesforce.com/docs",
}
BAD_SECRET = {
    "error": "invalid_client",
    "error_description": "Client authentication failed. Make sure that the client ID and client "
    "secret are valid and that the package is installed and enabled.",
    "error_uri": "https://developer.salesforce.com/docs",
}
BLOCKED = {
    "message": "Your requests are temporarily blocked.",
    "errorcode": 50200,
    "documentation": "",
}
RATE_LIMITED = {
    "message": "Rate limit exceeded",
    "errorcode": 50100,
    "retryAfter": 5,
    "documentation": "",
}
NOT_AUTHORIZED = {"documentation": "", "errorcode": 0, "message": "Not Authorized"}
INSUFFICIENT = {"message": "Insufficient privileges to complete this action.", "errorcode": 20002}
NOT_FOUND_YET = {
    "requestId": "c3e4",
    "resultMessages": [
        {
            "resultType": "Operational",
            "resultClass": "Error",
            "resultCode": "AsyncRequestStatusNotFound",
            "message": "Unable to locate an Async Request Status Record for the provided RequestId: r1.",
        }
    ],
}
CUSTOM_OBJECT_NOT_FOUND = {
    "requestId": "5240",
    "resultMessages": [
        {
            "resultType": "Validation",
            "resultClass": "Error",
            "resultCode": "CustomObjectNotFound",
            "message": "Failed to resolve the Custom Object from the provided ObjectReferenceIdentifier [Id: , Key: nope].",
        }
    ],
}


def status(request_status="Complete", result_status="OK", has_errors=False):
    return {
        "status": {
            "callDateTime": "2017-10-27T16:00:38.98",
            "hasErrors": has_errors,
            "requestStatus": request_status,
            "resultStatus": result_status,
            "requestId": "r1",
        },
        "requestId": "status-call",
    }


OK_ITEM = {"status": "OK", "message": "Upserted DataExtensionObject"}
NULL_PK_ITEM = {
    "status": "Error",
    "errorCode": 2,
    "message": "Cannot locate the existing record. Required keys are missing.",
    "errors": [
        {
            "name": "contactkey",
            "errorCode": 70001,
            "errorMessage": "Column [contactkey] does not allow null value.",
        }
    ],
}
PK_VIOLATION_ITEM = {
    "status": "Error",
    "errorCode": "UnexpectedError",
    "message": "Violation of PRIMARY KEY constraint 'PK_1'. Cannot insert duplicate key in object 'x'. "
    "The duplicate key value is (12345_pk).\r\nThe statement has been terminated.",
}
DEADLOCK_ITEM = {
    "status": "Error",
    "errorCode": "UnexpectedError",
    "message": "Transaction was deadlocked on lock resources with another process. Rerun the transaction.",
}
ROWSET_400 = {
    "message": "Unable to save rows for data extension ID 8b0c",
    "errorcode": 10006,
    "documentation": "",
    "additionalErrors": [
        {
            "message": "Email: The value for column [Email] is not a valid email address. Parse error [InvalidEmailAddress]",
            "errorcode": 10000,
            "documentation": "",
        }
    ],
}
ROWSET_TRANSIENT = {
    "message": "Unable to save rows for data extension ID 8b0c",
    "errorcode": 10006,
    "documentation": "",
}

_ENV = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Header/><soap:Body>{}</soap:Body></soap:Envelope>'
)
_NS = 'xmlns="http://exacttarget.com/wsdl/partnerAPI"'


def retrieve_response(results_xml, status="OK", request_id="req-1"):
    return _ENV.format(
        f"<RetrieveResponseMsg {_NS}><OverallStatus>{status}</OverallStatus>"
        f"<RequestID>{request_id}</RequestID>{results_xml}</RetrieveResponseMsg>"
    )


def folder(fid, name, parent, content_type="dataextension"):
    return (
        f'<Results xsi:type="DataFolder"><ID>{fid}</ID><Name>{name}</Name>'
        f"<ParentFolder><ID>{parent}</ID></ParentFolder><ContentType>{content_type}</ContentType></Results>"
    )


def de_result(key, name, category=None, object_id="guid-1"):
    cat = f"<CategoryID>{category}</CategoryID>" if category is not None else ""
    return (
        f'<Results xsi:type="DataExtension"><ObjectID>{object_id}</ObjectID><CustomerKey>{key}</CustomerKey>'
        f"<Name>{name}</Name>{cat}</Results>"
    )


def field_result(
    name,
    field_type="Text",
    max_length=None,
    pk=False,
    required=False,
    ordinal=0,
    scale=None,
    object_id=None,
):
    parts = [
        f"<Name>{name}</Name>",
        f"<FieldType>{field_type}</FieldType>",
        f"<Ordinal>{ordinal}</Ordinal>",
    ]
    if max_length is not None:
        parts.append(f"<MaxLength>{max_length}</MaxLength>")
    if scale is not None:
        parts.append(f"<Scale>{scale}</Scale>")
    if object_id:
        parts.append(f"<ObjectID>{object_id}</ObjectID>")
    parts.append(
        f"<IsPrimaryKey>{str(pk).lower()}</IsPrimaryKey><IsRequired>{str(required).lower()}</IsRequired>"
    )
    return f'<Results xsi:type="DataExtensionField">{"".join(parts)}</Results>'


def row_result(**values):
    props = "".join(
        f"<Property><Name>{k}</Name><Value>{v}</Value></Property>" for k, v in values.items()
    )
    return f'<Results xsi:type="DataExtensionObject"><Properties>{props}</Properties></Results>'


def action_response(action, results, overall="OK"):
    body = "".join(
        f"<Results><StatusCode>{code}</StatusCode><StatusMessage>{msg}</StatusMessage>"
        f"<OrdinalID>{i}</OrdinalID>{extra}</Results>"
        for i, (code, msg, extra) in enumerate(results)
    )
    return _ENV.format(
        f"<{action}Response {_NS}>{body}<RequestID>r</RequestID><OverallStatus>{overall}</OverallStatus></{action}Response>"
    )


def perform_response(code="OK", message="Data Extension cleared."):
    return _ENV.format(
        f"<PerformResponseMsg {_NS}><Results><Result><StatusCode>{code}</StatusCode>"
        f"<StatusMessage>{message}</StatusMessage></Result></Results>"
        f"<OverallStatus>{code}</OverallStatus><RequestID>r</RequestID></PerformResponseMsg>"
    )


def fault(code, message, api_code=None):
    detail = (
        f'<detail><apifault xmlns="urn:fault.partner.exacttarget.com"><Code>{api_code}</Code>'
        f"<Message>{message}</Message></apifault></detail>"
        if api_code
        else ""
    )
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
        f'<faultcode xmlns:q0="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">{code}</faultcode>'
        f"<faultstring>{message}</faultstring><faultactor>{SOAP_URL}</faultactor>{detail}"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )


TOKEN_EXPIRED = fault("q0:Security", "Token Expired")
SOAP_RATE_LIMITED = fault("soap:Server", "Rate Limited", 17)
SOAP_NO_PRIVILEGE = fault(
    "soap:Client", "Insufficient Privileges: the token lacks the saved_content_read scope.", 2
)
