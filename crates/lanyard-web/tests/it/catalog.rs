//! `/api/v1/catalog`: search the connector templates.

use axum::http::StatusCode;

web_test!(search_finds_the_aws_connectors_with_their_defaults, |app| {
    let all = app.get("/api/v1/catalog").await.expect(StatusCode::OK);
    assert_eq!(all.as_array().unwrap().len(), 3);

    let aws = app
        .get("/api/v1/catalog?search=aws")
        .await
        .expect(StatusCode::OK);
    let names: Vec<&str> = aws
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Amazon AWS IAM", "AWS IAM Identity Center"]);

    let iam = app
        .get("/api/v1/catalog?search=Amazon%20AWS%20IAM")
        .await
        .expect(StatusCode::OK);
    let t = &iam[0];
    assert_eq!(t["key"], "aws-iam");
    assert_eq!(t["sp_entity_id"], "urn:amazon:webservices");
    assert_eq!(t["acs_urls"][0], "https://signin.aws.amazon.com/saml");
    assert_eq!(
        t["constants"][0]["name"],
        "https://aws.amazon.com/SAML/Attributes/SessionDuration"
    );
    assert_eq!(t["constants"][0]["value"], "3600");
    assert_eq!(t["mappings"][0]["user_field"], "email");
    assert_eq!(t["aws_rules"], true);

    let none = app
        .get("/api/v1/catalog?search=salesforce")
        .await
        .expect(StatusCode::OK);
    assert_eq!(none.as_array().unwrap().len(), 0);

    app.get("/api/v1/catalog?nope=1")
        .await
        .expect_invalid("nope");
    let long = "a".repeat(201);
    assert_eq!(
        app.get(&format!("/api/v1/catalog?search={long}"))
            .await
            .expect_invalid("search"),
        "must be at most 200 characters"
    );
    app.shutdown().await;
});

web_test!(catalog_needs_a_key, |app| {
    let resp = app.raw("GET", "/api/v1/catalog", None, None).await;
    resp.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.shutdown().await;
});
