//! The `#[rmkit::command]` attribute. Use it through the `rmkit` crate (`rmkit::command`),
//! which documents it; this crate only turns the declaration into the toolkit's registration.
//!
//! Everything that can be checked from the tokens is checked here, with errors that say what to
//! write instead: command flags and ACL categories against Redis's lists, `getkeys-api` against
//! a `getkeys = ...` function, the parameters' form. What depends on the parameters' types
//! (arity, key positions, key specs, `COMMAND DOCS`) is derived by the toolkit's const
//! functions from each type's `Param::SHAPE`, so a layout no Redis command can have (a key
//! after a variadic argument, say) is a compile-time error too.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, Pat, Path, ReturnType, Type, parse_macro_input};

/// Command flags `RedisModule_CreateCommand` accepts (Redis 7.0 and later).
const FLAGS: &[&str] = &[
    "write",
    "readonly",
    "admin",
    "deny-oom",
    "deny-script",
    "allow-loading",
    "pubsub",
    "random",
    "allow-stale",
    "no-monitor",
    "no-slowlog",
    "fast",
    "getkeys-api",
    "no-cluster",
    "no-auth",
    "may-replicate",
    "no-mandatory-keys",
    "blocking",
    "allow-busy",
    "getchannels-api",
];

/// ACL categories (`ACL CAT`).
const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    flags: Option<LitStr>,
    acl: Option<LitStr>,
    since: Option<LitStr>,
    complexity: Option<LitStr>,
    tips: Option<LitStr>,
    getkeys: Option<Path>,
    keys: Option<syn::Expr>,
    key_specs: Option<syn::Expr>,
    arity: Option<syn::Expr>,
    args: Option<syn::Expr>,
    history: Option<syn::Expr>,
}

fn error(span: Span, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(span, msg)
}

/// See `rmkit::command` for the documentation.
#[proc_macro_attribute]
pub fn command(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let slot = match key.as_str() {
            "name" => &mut options.name,
            "flags" => &mut options.flags,
            "acl" => &mut options.acl,
            "since" => &mut options.since,
            "complexity" => &mut options.complexity,
            "tips" => &mut options.tips,
            "getkeys" => {
                options.getkeys = Some(meta.value()?.parse()?);
                return Ok(());
            }
            "keys" => {
                options.keys = Some(meta.value()?.parse()?);
                return Ok(());
            }
            "key_specs" => {
                options.key_specs = Some(meta.value()?.parse()?);
                return Ok(());
            }
            "arity" => {
                options.arity = Some(meta.value()?.parse()?);
                return Ok(());
            }
            "args" => {
                options.args = Some(meta.value()?.parse()?);
                return Ok(());
            }
            "history" => {
                options.history = Some(meta.value()?.parse()?);
                return Ok(());
            }
            _ => {
                return Err(meta.error(
                    "unknown option; #[rmkit::command(...)] takes name, flags, acl, since, \
                     complexity, tips, getkeys, keys, key_specs, arity, args and history",
                ));
            }
        };
        *slot = Some(meta.value()?.parse()?);
        Ok(())
    });
    parse_macro_input!(attr with parser);
    let item = parse_macro_input!(item as ItemFn);
    let mut fallback = item.clone();
    match expand(options, item) {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            // The error, and the function itself (without our parameter attributes), so that
            // the one error is all the compiler says.
            for input in fallback.sig.inputs.iter_mut() {
                if let FnArg::Typed(pt) = input {
                    pt.attrs.retain(|a| !a.path().is_ident("key"));
                }
            }
            let mut out = e.to_compile_error();
            out.extend(fallback.to_token_stream());
            out.into()
        }
    }
}

/// Checks a space-separated list of words against `known`.
fn check_words(lit: &LitStr, known: &[&str], what: &str, whats: &str) -> syn::Result<()> {
    for word in lit.value().split_ascii_whitespace() {
        if !known.contains(&word) {
            let close = known
                .iter()
                .find(|k| {
                    k.eq_ignore_ascii_case(word) || k.starts_with(word) || word.starts_with(*k)
                })
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            return Err(error(
                lit.span(),
                format!(
                    "unknown {what} `{word}`{close}; known {whats}: {}",
                    known.join(" ")
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `ty` is `&Context` (any path ending in `Context`).
fn is_context(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => match &*r.elem {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Context"),
            _ => false,
        },
        _ => false,
    }
}

/// One parameter after the context: its name, type, and `#[key(flags = "...")]` override.
struct Param {
    name: syn::Ident,
    ty: Type,
    key_flags: Option<LitStr>,
}

fn expand(options: Options, mut item: ItemFn) -> syn::Result<Tokens> {
    let sig = &item.sig;
    if let Some(c) = &sig.constness {
        return Err(error(
            c.span(),
            "a command is a plain `fn`, not a `const fn`",
        ));
    }
    if let Some(a) = &sig.asyncness {
        return Err(error(
            a.span(),
            "a command cannot be `async`: Redis calls it on its main thread and waits for the \
             reply; for slow work return `ctx.block_on_thread(...)` from a plain fn",
        ));
    }
    if let syn::Safety::Unsafe(u) = &sig.safety {
        return Err(error(u.span(), "a command is a safe `fn`"));
    }
    if let Some(abi) = &sig.abi {
        return Err(error(
            abi.span(),
            "a command is a Rust `fn`; the toolkit writes the `extern \"C\"` glue",
        ));
    }
    if sig.generics.type_params().next().is_some() || sig.generics.const_params().next().is_some() {
        return Err(error(
            sig.generics.span(),
            "a command cannot be generic (only lifetimes are allowed)",
        ));
    }
    if let ReturnType::Default = sig.output {
        return Err(error(
            sig.ident.span(),
            "a command returns `rmkit::Result<T>` (T: Into<Reply>), e.g. `-> Result<Reply>`",
        ));
    }
    let fn_name = sig.ident.clone();

    // Options checked from the tokens.
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new(&fn_name.to_string(), fn_name.span()));
    let name_value = name.value();
    if name_value.is_empty()
        || name_value
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(error(
            name.span(),
            "a command name is non-empty, without spaces",
        ));
    }
    if name_value.matches('|').count() > 1
        || name_value.starts_with('|')
        || name_value.ends_with('|')
    {
        return Err(error(
            name.span(),
            "a subcommand is named \"parent|sub\" (one level), e.g. \"json.debug|memory\"",
        ));
    }
    let flags = options
        .flags
        .clone()
        .unwrap_or_else(|| LitStr::new("", Span::call_site()));
    check_words(&flags, FLAGS, "command flag", "command flags")?;
    let flag_list: Vec<String> = flags
        .value()
        .split_ascii_whitespace()
        .map(String::from)
        .collect();
    let readonly = flag_list.iter().any(|f| f == "readonly");
    for (a, b) in [("write", "readonly"), ("readonly", "write")] {
        if flag_list.iter().any(|f| f == a) && flag_list.iter().any(|f| f == b) {
            return Err(error(
                flags.span(),
                "a command is `write` or `readonly`, not both",
            ));
        }
    }
    if let Some(acl) = &options.acl {
        check_words(acl, CATEGORIES, "ACL category", "ACL categories")?;
    }
    let getkeys_api = flag_list.iter().any(|f| f == "getkeys-api");
    match (&options.getkeys, getkeys_api) {
        (None, true) => {
            return Err(error(
                flags.span(),
                "`getkeys-api` needs the function that answers key-position requests: add \
                 `getkeys = my_keys` with `fn my_keys(args: &[RedisStr]) -> Vec<usize>` (the \
                 command body never runs for those requests)",
            ));
        }
        (Some(p), false) => {
            return Err(error(
                p.span(),
                "`getkeys = ...` answers key-position requests only for a command with the \
                 `getkeys-api` flag: add it to `flags`",
            ));
        }
        _ => {}
    }

    // Parameters: an optional leading `&Context`, then typed arguments.
    let mut takes_ctx = false;
    let mut params = Vec::new();
    for (i, input) in item.sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(pt) = input else {
            return Err(error(input.span(), "a command is a free fn, not a method"));
        };
        if i == 0 && is_context(&pt.ty) {
            takes_ctx = true;
            continue;
        }
        if is_context(&pt.ty) {
            return Err(error(
                pt.ty.span(),
                "the `&Context` parameter comes first, before the command's arguments",
            ));
        }
        let Pat::Ident(pi) = &*pt.pat else {
            return Err(error(
                pt.pat.span(),
                "name each argument with a plain identifier (it is its name in COMMAND DOCS)",
            ));
        };
        let mut key_flags = None;
        let mut err = None;
        pt.attrs.retain(|a| {
            if !a.path().is_ident("key") {
                return true;
            }
            let r = a.parse_nested_meta(|meta| {
                if meta.path.is_ident("flags") {
                    key_flags = Some(meta.value()?.parse::<LitStr>()?);
                    Ok(())
                } else {
                    Err(meta.error("#[key(...)] takes `flags = \"RW insert\"` (key spec flags)"))
                }
            });
            if let Err(e) = r {
                err = Some(e);
            }
            false
        });
        if let Some(e) = err {
            return Err(e);
        }
        params.push(Param {
            name: pi.ident.clone(),
            ty: (*pt.ty).clone(),
            key_flags,
        });
    }

    let doc: Vec<Tokens> = item
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => Some(nv.value.to_token_stream()),
            _ => None,
        })
        .collect();

    let decls = params.iter().map(|p| {
        let (n, ty) = (p.name.to_string(), &p.ty);
        let key_flags = match &p.key_flags {
            Some(f) => quote!(::core::option::Option::Some(#f)),
            None => quote!(::core::option::Option::None),
        };
        quote_spanned! {ty.span()=>
            ::rmkit::__private::ParamDecl {
                name: #n,
                shape: <#ty as ::rmkit::command::Param<'_>>::SHAPE,
                key_flags: #key_flags,
            }
        }
    });
    // The glue's own locals are hygienic (mixed-site): a parameter named `args` or `ctx`
    // cannot shadow them.
    let args = syn::Ident::new("args", Span::mixed_site());
    let ctx = syn::Ident::new("ctx", Span::mixed_site());
    let argv = syn::Ident::new("argv", Span::mixed_site());
    let parse = params.iter().map(|p| {
        let (n, ty) = (&p.name, &p.ty);
        quote_spanned! {ty.span()=>
            let #n = <#ty as ::rmkit::command::Param<'_>>::parse(&mut #args, #ctx)?;
        }
    });
    let names: Vec<&syn::Ident> = params.iter().map(|p| &p.name).collect();
    let ctx_arg = takes_ctx.then(|| quote!(#ctx,));
    let opt = |o: &Option<LitStr>| match o {
        Some(l) => quote!(#l),
        None => quote!(""),
    };
    let (acl, since, complexity, tips) = (
        opt(&options.acl),
        opt(&options.since),
        opt(&options.complexity),
        opt(&options.tips),
    );
    let getkeys = match &options.getkeys {
        Some(p) => quote!(::core::option::Option::Some(
            |args: &[::rmkit::RedisStr]| ::rmkit::__private::key_positions(#p(args))
        )),
        None => quote!(::core::option::Option::None),
    };
    if let (Some(k), Some(_)) = (&options.keys, &options.key_specs) {
        return Err(error(
            k.span(),
            "give `keys` or `key_specs`, not both: with key specs Redis derives the legacy \
             key range itself",
        ));
    }
    let keys = match &options.keys {
        Some(e) => quote!(::core::option::Option::Some(#e)),
        None => quote!(::core::option::Option::None),
    };
    let key_specs = match &options.key_specs {
        Some(e) => quote!(::core::option::Option::Some(#e)),
        None => quote!(::core::option::Option::None),
    };
    let some_or_none = |o: &Option<syn::Expr>| match o {
        Some(e) => quote!(::core::option::Option::Some(#e)),
        None => quote!(::core::option::Option::None),
    };
    let explicit_arity = some_or_none(&options.arity);
    let doc_args = some_or_none(&options.args);
    let history = match &options.history {
        Some(e) => quote!(#e),
        None => quote!(&[]),
    };
    let n_params = params.len();
    let subcommand = name_value.contains('|');

    // The glue's own items have names no user item has (items are not hygienic, even
    // mixed-site): a user const named `KEY_SPECS` or `ARITY` passed to an option is not
    // shadowed by them.
    let params_c = syn::Ident::new("__RMKIT_PARAMS", Span::call_site());
    let arity_c = syn::Ident::new("__RMKIT_ARITY", Span::call_site());
    let keys_c = syn::Ident::new("__RMKIT_KEYS", Span::call_site());
    let key_specs_c = syn::Ident::new("__RMKIT_KEY_SPECS", Span::call_site());
    let command_t = syn::Ident::new("__RmkitCommand", Span::call_site());
    let def_s = syn::Ident::new("__RMKIT_DEF", Span::call_site());
    Ok(quote! {
        #item

        const _: () = {
            const #params_c: [::rmkit::__private::ParamDecl; #n_params] = [#(#decls),*];
            // The layout is checked at compile time: a const panic here says what is wrong.
            const #arity_c: i32 = ::rmkit::__private::explicit_arity(
                ::rmkit::__private::arity(&#params_c, #subcommand),
                #explicit_arity,
            );
            const #keys_c: ::core::option::Option<(i32, i32, i32)> = #keys;
            const #key_specs_c: ::core::option::Option<&'static [::rmkit::command::docs::KeySpec]> =
                #key_specs;
            const _: () = ::rmkit::__private::check_explicit_keys(&#params_c, #keys_c, #key_specs_c);

            struct #command_t;
            impl ::rmkit::__private::Handler for #command_t {
                const NAME: &'static str = #name;
                const ARITY: i32 = #arity_c;
                const GETKEYS: ::core::option::Option<::rmkit::__private::GetKeysFn> = #getkeys;
                const READONLY: bool = #readonly;
                #[inline]
                fn call(
                    #ctx: &::rmkit::Context,
                    #argv: &[::rmkit::RedisStr],
                ) -> ::rmkit::Result<::rmkit::Reply> {
                    let _ = #ctx;
                    let mut #args = ::rmkit::command::Args::new(#argv);
                    if #subcommand {
                        // `parent sub args...`: the subcommand's name is not an argument.
                        #args.skip_subcommand();
                    }
                    #(#parse)*
                    #args.done()?;
                    ::rmkit::__private::into_reply(#fn_name(#ctx_arg #(#names),*))
                }
            }

            #[::rmkit::__private::linkme::distributed_slice(::rmkit::__private::COMMANDS)]
            #[linkme(crate = ::rmkit::__private::linkme)]
            static #def_s: ::rmkit::__private::CommandDef = ::rmkit::__private::CommandDef {
                name: #name,
                flags: #flags,
                arity: #arity_c,
                doc: ::core::concat!(#(#doc, "\n"),*),
                acl: #acl,
                since: #since,
                complexity: #complexity,
                tips: #tips,
                params: &#params_c,
                location: ::core::concat!(::core::file!(), ":", ::core::line!()),
                callback: ::rmkit::__private::trampoline::<#command_t>,
                keys: #keys_c,
                key_specs: #key_specs_c,
                doc_args: #doc_args,
                history: #history,
            };
        };
    })
}
