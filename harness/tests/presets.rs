//! The presets match the defaults table (design notes, "product defaults"), parse with errors that name the
//! bad name and list the valid ones, ask for the undocumented Application Gateway idle timeout, and turn into
//! overrides that `Scenario::with_override` accepts, before the user's own `--set`s.

use std::time::Duration;

use gateway::RetryPolicy;
use harness::preset::{BackPreset, FrontPreset, IdleLimit, Preset, PresetError, RequestLimit};
use harness::scenario::Scenario;

const S: fn(u64) -> IdleLimit = |s| IdleLimit::After(Duration::from_secs(s));

#[test]
fn fronts_match_the_defaults_table() {
    let table = [
        (FrontPreset::Alb, S(60), RetryPolicy::None),
        (
            FrontPreset::Appgw,
            IdleLimit::Undocumented,
            RetryPolicy::None,
        ),
        (FrontPreset::Gcp, S(600), RetryPolicy::None),
        (FrontPreset::Cloudflare, S(900), RetryPolicy::None),
        (FrontPreset::Envoy, S(3600), RetryPolicy::None),
        (FrontPreset::Traefik, S(90), RetryPolicy::Idempotent),
        (FrontPreset::Nginx, S(60), RetryPolicy::Idempotent),
        (
            FrontPreset::Haproxy,
            IdleLimit::Unbounded,
            RetryPolicy::None,
        ),
        (FrontPreset::Caddy, S(120), RetryPolicy::Idempotent),
        (FrontPreset::Varnish, S(60), RetryPolicy::None),
    ];
    assert_eq!(table.len(), FrontPreset::ALL.len());
    for (preset, idle, retry) in table {
        let defaults = preset.defaults();
        assert_eq!(defaults.idle_timeout, idle, "{preset}");
        assert_eq!(defaults.retry, retry, "{preset}");
        assert!(!defaults.source.is_empty(), "{preset} cites a source");
    }
    assert_eq!(
        FrontPreset::Nginx.defaults().max_requests,
        RequestLimit::At(1000)
    );
}

#[test]
fn backs_match_the_defaults_table() {
    let table = [
        (BackPreset::Apache, S(5), RequestLimit::At(100)),
        (BackPreset::Nginx, S(75), RequestLimit::At(1000)),
        (BackPreset::Node20, S(5), RequestLimit::Unlimited),
        (BackPreset::Node26, S(65), RequestLimit::Unlimited),
        (BackPreset::Gunicorn, S(2), RequestLimit::Unlimited),
        (BackPreset::Uvicorn, S(5), RequestLimit::Unlimited),
        (BackPreset::Tomcat, S(20), RequestLimit::At(100)),
        (BackPreset::Jetty, S(30), RequestLimit::Unlimited),
        (BackPreset::Iis, S(120), RequestLimit::Unlimited),
        (BackPreset::Puma, S(65), RequestLimit::Unlimited),
        (BackPreset::Kestrel, S(130), RequestLimit::Unlimited),
        (
            BackPreset::Go,
            IdleLimit::Unbounded,
            RequestLimit::Unlimited,
        ),
    ];
    assert_eq!(table.len(), BackPreset::ALL.len());
    for (preset, timeout, requests) in table {
        let defaults = preset.defaults();
        assert_eq!(defaults.keepalive_timeout, timeout, "{preset}");
        assert_eq!(defaults.max_requests, requests, "{preset}");
        assert!(!defaults.source.is_empty(), "{preset} cites a source");
    }
    // Measured on Node 20.20.2 with bench/idle_close.py: the close comes 1 s after keepAliveTimeout.
    assert_eq!(BackPreset::Node20.defaults().effective_close(), S(6));
    assert_eq!(BackPreset::Apache.defaults().effective_close(), S(5));
}

#[test]
fn parse_errors_name_the_bad_name_and_list_the_valid_ones() {
    let error = "front=alb,back=nodejs"
        .parse::<Preset>()
        .expect_err("unknown back");
    let message = error.to_string();
    assert!(message.contains("\"nodejs\""), "{message}");
    assert!(
        message.contains("node20") && message.contains("kestrel"),
        "{message}"
    );
    let error = "front=elb".parse::<Preset>().expect_err("unknown front");
    assert!(error.to_string().contains("alb, appgw"), "{error}");
    assert!(matches!(
        "side=alb".parse::<Preset>(),
        Err(PresetError::Syntax { .. })
    ));
    assert!(matches!(
        "front=alb,front=gcp".parse::<Preset>(),
        Err(PresetError::Twice { .. })
    ));
    assert_eq!(
        "front=alb,back=node20".parse::<Preset>(),
        Ok(Preset {
            front: Some(FrontPreset::Alb),
            back: Some(BackPreset::Node20)
        })
    );
}

#[test]
fn appgw_asks_for_its_idle_timeout_unless_the_user_gives_it() {
    let preset: Preset = "front=appgw,back=apache".parse().expect("valid");
    let error = preset.overrides(&[]).expect_err("undocumented");
    assert!(
        error.to_string().contains("--set front.idle_timeout="),
        "{error}"
    );
    let user = vec!["front.idle_timeout=4s".to_owned()];
    let overrides = preset.overrides(&user).expect("completed by the user");
    assert!(
        !overrides
            .iter()
            .any(|o| o.starts_with("front.idle_timeout=")),
        "{overrides:?}"
    );
}

fn apply(base: Scenario, assignments: &[String]) -> Scenario {
    assignments.iter().fold(base, |scenario, assignment| {
        scenario
            .with_override(assignment)
            .expect("override applies")
    })
}

#[test]
fn overrides_apply_to_a_scenario_before_the_users_sets() {
    let preset: Preset = "front=alb,back=node20".parse().expect("valid");
    let user = vec!["back.max_keepalive_requests=7".to_owned()];
    let overrides = preset.overrides(&user).expect("documented");
    let scenario = apply(
        apply(Scenario::default_race().expect("embedded"), &overrides),
        &user,
    );
    assert_eq!(scenario.front.idle_timeout, Duration::from_secs(60));
    assert_eq!(scenario.front.retry, RetryPolicy::None);
    assert_eq!(scenario.front.max_requests_per_conn, 0);
    assert!(scenario.back.keepalive);
    assert_eq!(scenario.back.keepalive_timeout, Duration::from_secs(6));
    assert_eq!(
        scenario.back.max_keepalive_requests, 7,
        "the user's --set wins"
    );

    let every: Vec<Preset> = FrontPreset::ALL
        .into_iter()
        .filter(|f| *f != FrontPreset::Appgw)
        .flat_map(|front| {
            BackPreset::ALL.into_iter().map(move |back| Preset {
                front: Some(front),
                back: Some(back),
            })
        })
        .collect();
    for preset in every {
        let overrides = preset.overrides(&[]).expect("documented");
        apply(Scenario::default_race().expect("embedded"), &overrides);
    }
}

#[test]
fn presets_scale_as_data() {
    let defaults = BackPreset::Node20.defaults().scaled(0.01);
    assert_eq!(
        defaults.keepalive_timeout,
        IdleLimit::After(Duration::from_millis(50))
    );
    assert_eq!(
        defaults.effective_close(),
        IdleLimit::After(Duration::from_millis(60))
    );
    assert_eq!(
        FrontPreset::Haproxy.defaults().scaled(0.01).idle_timeout,
        IdleLimit::Unbounded
    );
    assert_eq!(FrontPreset::Alb.defaults().scaled(0.5).idle_timeout, S(30));
}
