// Setup page of t1651_cloud_admin_command: creates or updates a t1651_cloud_audit input and
// stores its secret in storage/passwords, through splunkd's REST API as the signed-in user.
//
// Naming convention (read by the input, src/modinput/passwords.rs): the secret is stored in
// this app's namespace with realm "t1651_cloud_audit" and user name = the input's name, so
// the entry is "t1651_cloud_audit:<input name>:" and the input's `credential` setting is
// "t1651_cloud_audit:<input name>:" (the exact name). The secret travels only in the body of one POST to
// storage/passwords; it is never logged, never put in a URL and never read back.
require([
    'jquery',
    'splunkjs/mvc',
    'splunkjs/mvc/simplexml/ready!'
], function ($, mvc) {
    'use strict';

    var APP = 't1651_cloud_admin_command';
    var SCHEME = 't1651_cloud_audit';
    var REALM = 't1651_cloud_audit';
    var NS = '/servicesNS/nobody/' + APP;
    var NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
    var GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
    var COMMON = ['index', 'interval', 'start_from', 'overlap'];
    var BY_CLOUD = {
        azure: ['tenant_id', 'client_id', 'subscription_ids', 'environment'],
        aws: ['access_key_id', 'regions', 'role_arn']
    };
    var REQUIRED = {
        azure: ['tenant_id', 'client_id'],
        aws: ['access_key_id', 'regions']
    };

    var service = mvc.createService({ owner: 'nobody', app: APP });

    function val(id) {
        return String($('#t1651-' + id).val() || '').trim();
    }

    function status(text, isError) {
        $('#t1651-status')
            .text(text)
            .toggleClass('t1651-error', !!isError)
            .toggleClass('t1651-ok', !isError);
    }

    function errorText(err) {
        var msgs = err && err.data && err.data.messages;
        if (msgs && msgs.length && msgs[0].text) {
            return msgs[0].text;
        }
        return 'HTTP ' + ((err && err.status) || '?');
    }

    function post(path, params) {
        var d = $.Deferred();
        service.post(path, params, function (err, resp) {
            if (err) { d.reject(err); } else { d.resolve(resp); }
        });
        return d.promise();
    }

    function get(path, params) {
        var d = $.Deferred();
        service.get(path, params, function (err, resp) {
            if (err) { d.reject(err); } else { d.resolve(resp); }
        });
        return d.promise();
    }

    function showCloud() {
        var cloud = val('cloud');
        $('.t1651-cloud-azure').toggle(cloud === 'azure');
        $('.t1651-cloud-aws').toggle(cloud === 'aws');
    }

    // Problems with the form, in words; empty when it can be saved.
    function validate(name, cloud, isNew, secret) {
        var problems = [];
        if (!NAME_RE.test(name)) {
            problems.push('Input name: 1-64 letters, digits, _ or -.');
        }
        $.each(REQUIRED[cloud], function (_, k) {
            if (!val(k)) { problems.push(k + ' is required for ' + cloud + '.'); }
        });
        if (cloud === 'azure') {
            $.each(['tenant_id', 'client_id'], function (_, k) {
                if (val(k) && !GUID_RE.test(val(k))) { problems.push(k + ' must be a GUID.'); }
            });
        }
        if (!/^[0-9]+$/.test(val('interval')) || parseInt(val('interval'), 10) < 60) {
            problems.push('Interval must be a whole number of seconds, at least 60.');
        }
        if (isNew && !secret) {
            problems.push('A new input needs its secret.');
        }
        return problems;
    }

    function inputParams(name, cloud, isNew) {
        var p = { cloud: cloud, credential: REALM + ':' + name + ':' };
        $.each(COMMON.concat(BY_CLOUD[cloud]), function (_, k) {
            var v = val(k);
            // On create, leave unset what is empty (the input's defaults apply).
            if (v || !isNew) { p[k] = v; }
        });
        if (isNew) {
            p.name = name;
        } else {
            // Switching an input's cloud: clear the other cloud's settings, which the input
            // rejects ("does not apply to cloud = ...").
            $.each(BY_CLOUD[cloud === 'azure' ? 'aws' : 'azure'], function (_, k) { p[k] = ''; });
        }
        return p;
    }

    function saveSecret(name, secret) {
        if (!secret) { return $.Deferred().resolve().promise(); }
        var entity = NS + '/storage/passwords/' + encodeURIComponent(REALM + ':' + name + ':');
        return post(NS + '/storage/passwords', { name: name, realm: REALM, password: secret })
            .then(null, function (err) {
                // 409: the entry exists; update its password instead.
                if (err && err.status === 409) { return post(entity, { password: secret }); }
                return $.Deferred().reject(err).promise();
            });
    }

    function inputExists(name) {
        var d = $.Deferred();
        get(NS + '/data/inputs/' + SCHEME + '/' + encodeURIComponent(name), { output_mode: 'json' })
            .then(function () { d.resolve(true); },
                  function (err) {
                      if (err && err.status === 404) { d.resolve(false); } else { d.reject(err); }
                  });
        return d.promise();
    }

    function refreshList() {
        get(NS + '/data/inputs/' + SCHEME, { output_mode: 'json', count: 0 }).then(function (resp) {
            var body = $('#t1651-inputs tbody').empty();
            var entries = (resp && resp.data && resp.data.entry) || [];
            $.each(entries, function (_, e) {
                var c = e.content || {};
                // .text() escapes: input names and settings are never rendered as HTML.
                $('<tr/>')
                    .append($('<td/>').text(e.name))
                    .append($('<td/>').text(c.cloud || ''))
                    .append($('<td/>').text(c.credential || ''))
                    .append($('<td/>').text(String(c.disabled)))
                    .appendTo(body);
            });
        }, function (err) {
            status('Could not list inputs: ' + errorText(err), true);
        });
    }

    function markConfigured() {
        return post('/servicesNS/nobody/system/apps/local/' + APP, { configured: 'true' })
            .then(null, function () { return $.Deferred().resolve().promise(); });
    }

    $('#t1651-cloud').on('change', showCloud);
    showCloud();
    refreshList();

    $('#t1651-form').on('submit', function (ev) {
        ev.preventDefault();
        var name = val('name');
        var cloud = val('cloud');
        var secretField = $('#t1651-secret');
        var secret = secretField.val() || '';
        $('#t1651-save').prop('disabled', true);
        status('Saving...', false);
        inputExists(name)
            .then(function (exists) {
                var problems = validate(name, cloud, !exists, secret);
                if (problems.length) {
                    return $.Deferred().reject({ local: problems.join(' ') }).promise();
                }
                return saveSecret(name, secret).then(function () {
                    var path = NS + '/data/inputs/' + SCHEME + (exists ? '/' + encodeURIComponent(name) : '');
                    return post(path, inputParams(name, cloud, !exists));
                }).then(function () { return exists; });
            })
            .then(function (existed) {
                secretField.val('');
                status((existed ? 'Updated' : 'Created') + ' input ' + name +
                       ' (credential ' + REALM + ':' + name + ':).', false);
                refreshList();
                return markConfigured();
            }, function (err) {
                status(err && err.local ? err.local : 'Not saved: ' + errorText(err), true);
            })
            .always(function () {
                $('#t1651-save').prop('disabled', false);
            });
    });
});
